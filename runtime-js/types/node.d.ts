// edgeft-runtime in Node (the package's "node" entry point): the shared API and onnxruntime-node.
export * from './index.js';

/** The onnxruntime-node module the runtime runs on (an optional peer dependency: install it beside this package). */
export declare const ort: typeof import('onnxruntime-node');
