"""Export a trained tracer to GGUF, so a llama.cpp server (xllamacpp) can serve it on a CPU.

A model trained from a GGUF base (`local/<name>` or a `.gguf` file; see `base_model`) keeps
that base's architecture and tokenizer, so the base GGUF is the template: every metadata key
(hyper-parameters, tokenizer, chat template) is copied from it, and every tensor is replaced by
the trained weight of the same name (LoRA adapters merged first), as float16 (norms float32).
The tensor names are gguf's own HF-to-GGUF map; Llama's query and key projections are permuted
back into llama.cpp's rotary layout, the inverse of what transformers undoes on loading a GGUF.

    python -m agentracer.training.export runs/train/final --base local/smollm2-135m \
        --out tracer.gguf

A model trained from a transformers directory has no GGUF template here: use llama.cpp's
`convert_hf_to_gguf.py` for it (or serve it with vLLM on a GPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.training.base_model import gguf_source


class ExportError(AgenTracerError):
    """The checkpoint cannot be written as a GGUF on the given base."""


def _state_dict(checkpoint: Path) -> dict[str, Any]:
    """The checkpoint's weights as float32 tensors, a LoRA adapter merged into its base."""
    import torch
    from transformers import AutoModelForCausalLM

    if (checkpoint / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32)
        model = model.merge_and_unload()
    elif (checkpoint / "config.json").is_file():
        model = AutoModelForCausalLM.from_pretrained(str(checkpoint), dtype=torch.float32)
    else:
        raise ExportError(f"{checkpoint} holds no model (no config.json or adapter_config.json)")
    return {name: tensor.detach().float() for name, tensor in model.state_dict().items()}


def _permute(weight: Any, heads: int) -> Any:
    """llama.cpp's rotary layout for a query or key projection (its converter's `permute`)."""
    rows = weight.shape[0]
    return (
        weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def export_gguf(checkpoint: Path, base: str | Path, out: Path) -> Path:
    """Write `checkpoint` (a transformers model or LoRA adapter directory trained from the GGUF
    model `base`) as the GGUF file `out`; returns `out`."""
    import gguf
    import numpy as np

    template = gguf_source(str(base))
    if template is None:
        raise ExportError(f"--base {base} is no GGUF model (local/<name> or a .gguf file)")
    reader = gguf.GGUFReader(template)
    arch = reader.fields["general.architecture"].contents()
    archs = {name: value for value, name in gguf.MODEL_ARCH_NAMES.items()}
    if arch not in archs:
        raise ExportError(f"{template}: gguf does not know the architecture {arch!r}")
    blocks = reader.fields[f"{arch}.block_count"].contents()
    heads = reader.fields[f"{arch}.attention.head_count"].contents()
    kv_field = reader.fields.get(f"{arch}.attention.head_count_kv")
    kv_heads = kv_field.contents() if kv_field is not None else heads
    expected = {t.name: tuple(int(n) for n in reversed(t.shape.tolist())) for t in reader.tensors}
    names = gguf.get_tensor_name_map(archs[arch], blocks)
    weights: dict[str, Any] = {}
    for hf_name, tensor in _state_dict(checkpoint).items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None or name not in expected:
            if hf_name == "lm_head.weight":
                continue  # tied to the embeddings: the base stores no separate output matrix
            raise ExportError(f"{checkpoint}: weight {hf_name} has no tensor in {template.name}")
        data = tensor.numpy()
        if tuple(data.shape) != expected[name]:
            raise ExportError(
                f"{checkpoint}: {hf_name} is {tuple(data.shape)}, {template.name} has "
                f"{expected[name]}: the checkpoint was not trained from this base"
            )
        if arch == "llama" and name.endswith(("attn_q.weight", "attn_k.weight")):
            data = _permute(data, heads if "attn_q" in name else kv_heads)
        weights[name] = data.astype(np.float32 if data.ndim == 1 else np.float16)
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ExportError(f"{checkpoint}: no weight for {missing[0]} of {template.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in (
            "general.architecture", "general.file_type", "general.quantization_version",
        ):  # fmt: skip
            continue  # written by the writer itself, or no longer true of the weights
        vtype = field.types[0]
        sub_type = field.types[1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub_type)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for name in expected:  # the base's tensor order
        writer.add_tensor(name, weights[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)  # a killed export leaves no half file under the final name
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="`agentracer train`'s OUTPUT_DIR/final")
    parser.add_argument("--base", required=True, help="the GGUF model training started from")
    parser.add_argument("--out", type=Path, required=True, help="the .gguf file to write")
    args = parser.parse_args(argv)
    try:
        print(export_gguf(args.checkpoint, args.base, args.out))
    except AgenTracerError as error:
        raise SystemExit(f"error: {error.one_line()}") from None


if __name__ == "__main__":
    main()
