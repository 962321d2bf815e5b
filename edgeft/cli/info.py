"""`edgeft info BUNDLE`: what a bundle is, how it was checked, and whether its files are intact."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import options as opt
from .common import command


@command
def info(
    bundle: opt.Bundle,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole manifest as JSON.")] = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Check every file's sha256.")] = True,
) -> None:
    """Show a bundle's task, labels, variants, parity report and file check."""
    from edgeft_runtime.manifest import read_manifest, verify_bundle
    from edgeft_runtime.parity_record import parity_lines
    from edgeft_runtime.reference import reference_files

    manifest = read_manifest(bundle)
    if verify:
        verify_bundle(bundle, manifest)
    if as_json:
        typer.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    labels = manifest.get("labels") or []
    lines = [
        f"bundle        {bundle}",
        f"task          {manifest['task']} ({manifest.get('problem_type') or 'n/a'})",
        *([f"labels        {len(labels)}: {', '.join(map(str, labels[:20]))}{' …' if len(labels) > 20 else ''}"] if labels else []),
        f"max length    {manifest['max_length']}",
        *([ner_words_line(manifest)] if manifest["task"] == "ner" else []),
        f"made by       edgeft {manifest.get('edgeft_version', '?')}, schema {manifest['schema_version']}",
        f"source        {(manifest.get('source') or {}).get('run', '?')} (base {(manifest.get('source') or {}).get('base_model', '?')})",
    ]
    for name, spec in manifest["variants"].items():
        size = manifest["files"].get(spec["file"], {}).get("bytes", 0) / 1e6
        default = " (default)" if name == manifest.get("default_variant") else ""
        quant = spec.get("quantization")
        detail = f", preset {quant['preset']}, per-channel {quant['per_channel']}" if quant else ""
        suits = [rule["target"] for rule in spec.get("suits") or []]
        detail += f", for {'/'.join(suits)} CPUs" if suits else ""
        lines.append(f"variant       {name}{default}: {spec['file']}, {size:.1f} MB{detail}")
    for i, line in enumerate(parity_lines(manifest)):
        lines.append(f"{'parity' if i == 0 else '':<14}{line}")
    reference = manifest.get("reference")
    if reference:
        size = sum(manifest["files"].get(f, {}).get("bytes", 0) for f in reference_files(reference)) / 1e3
        lines.append(
            f"reference     {reference['samples']} held-out texts of {reference.get('data', '?')} with PyTorch's answers "
            f"({size:.0f} kB), for `edgeft check` on a device. PRIVACY: these texts ship with the bundle; "
            "`edgeft bundle strip-reference` removes them"
        )
    else:
        lines.append("reference     none (`edgeft check` needs one: re-export with --reference-samples N)")
    lines.append(f"files         {len(manifest['files'])} {'verified (sha256)' if verify else 'not verified'}")
    typer.echo("\n".join(lines))


def ner_words_line(manifest: dict) -> str:
    """What a word is for this NER bundle: runtimes before schema 1.2 always split by the tokenizer."""
    from edgeft_runtime.ner import LEGACY_WORD_SPLIT

    split = (manifest.get("ner") or {}).get("word_split")
    if split is None:
        return f"words         {LEGACY_WORD_SPLIT} (no ner.word_split: written before schema 1.2)"
    note = ", needs an edgeft-runtime of schema 1.2 or later" if split != LEGACY_WORD_SPLIT else ""
    return f"words         {split} (ner.word_split{note})"
