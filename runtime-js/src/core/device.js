/**
 * Which int8 build suits this CPU: the `suits` rules that `edgeft export --target` writes into each
 * int8 variant of the manifest, matched the way the Python runtime does (edgeft_runtime.device).
 */

/** 'arm64' for 64-bit ARM, 'x86' for x86 (Node's `process.arch` names), else the name given. */
export function archFamily(arch) {
  const name = String(arch).toLowerCase();
  if (name === 'arm64' || name === 'aarch64' || name.startsWith('armv8')) return 'arm64';
  if (['x64', 'x86_64', 'amd64', 'ia32', 'i386', 'i686', 'x86'].includes(name)) return 'x86';
  return name;
}

/** Whether a CPU ({arch: archFamily, flags: Set of cpuinfo flags}) meets one `suits` rule. */
export function ruleMatches(rule, { arch, flags }) {
  if (rule.arch != null && rule.arch !== arch) return false;
  const any = rule.cpu_flags_any || [];
  if (any.length && !any.some((f) => flags.has(f))) return false;
  return !(rule.cpu_flags_none || []).some((f) => flags.has(f));
}

/**
 * The variants that name the CPUs they suit and that onnxruntime runs, as [name, spec] pairs.
 * Variants for another engine (`"engine": "openvino"`, run by the Python runtime where OpenVINO is
 * installed) are never picked here.
 */
export function suitedVariants(variants) {
  return Object.entries(variants || {}).filter(
    ([, spec]) => Array.isArray(spec.suits) && spec.suits.length && (spec.engine == null || spec.engine === 'onnxruntime'),
  );
}

/**
 * The first variant whose `suits` rules match the CPU, when the bundle offers more than one such
 * build; else null (the manifest's default variant serves).
 */
export function variantForCpu(variants, cpu) {
  const choices = suitedVariants(variants);
  if (choices.length < 2 || !cpu) return null;
  for (const [name, spec] of choices) {
    if (spec.suits.some((rule) => ruleMatches(rule, cpu))) return name;
  }
  return null;
}
