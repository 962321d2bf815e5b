// edgeft-runtime in browsers (the package's "browser" and default entry point): the shared API and onnxruntime-web.
export * from './index.js';

/**
 * The onnxruntime-web module the runtime runs on (its WebAssembly build; an optional peer
 * dependency: install it beside this package). Set `ort.env.wasm` options before the first load().
 */
export declare const ort: typeof import('onnxruntime-web');
