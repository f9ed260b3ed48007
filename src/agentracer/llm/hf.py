"""A local transformers model (e.g. a checkpoint from `agentracer train`), in-process: a full
model directory, or a LoRA adapter directory (its base is loaded and the adapter merged in).

Needs the `[train]` extra (torch, transformers). Decoding is greedy at temperature 0 and
sampled otherwise; grammars are not supported (answers are parsed, never guessed).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from agentracer.errors import (
    INSTALL_TRAIN_EXTRA,
    AgenTracerError,
    ContextLengthError,
    ModelNotFoundError,
)
from agentracer.llm.backend import file_identity
from agentracer.llm.types import ChatRequest, ChatResponse

PROVIDER = "hf"


class HFBackend:
    supports_grammar = False

    def __init__(self, path: Path) -> None:
        self.adapter = (path / "adapter_config.json").is_file()
        if not (path / "config.json").is_file() and not self.adapter:
            raise ModelNotFoundError(
                f"{path} is not a transformers model directory "
                "(no config.json, nor adapter_config.json)"
            )
        self.path = path
        self.name = f"{PROVIDER}/{path}"
        self.identity = file_identity(path)
        self.context_window: int | None = None
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded once."""
        with self._lock:
            if self._loaded is None:
                try:
                    from transformers import AutoModelForCausalLM, AutoTokenizer
                except ImportError:
                    raise AgenTracerError(
                        f"hf/ models need the [train] extra: {INSTALL_TRAIN_EXTRA}"
                    ) from None
                model = (
                    _merged_adapter(self.path)
                    if self.adapter
                    else AutoModelForCausalLM.from_pretrained(self.path)
                )
                model.eval()
                tokenizer = AutoTokenizer.from_pretrained(self.path)
                self.context_window = getattr(model.config, "max_position_embeddings", None)
                self._loaded = (model, tokenizer)
            return self._loaded

    def _generate(self, request: ChatRequest) -> ChatResponse:
        import torch

        model, tokenizer = self.load()
        inputs = tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        window = self.context_window
        if window is not None and prompt_tokens + request.max_tokens > window:
            # The tracers shorten the log in proportion and ask again, as with a server's refusal.
            raise ContextLengthError(
                f"{self.name}: {prompt_tokens} prompt tokens + {request.max_tokens} to generate "
                f"exceed the {window}-token context",
                prompt_tokens=prompt_tokens + request.max_tokens,
                context_window=window,
            )
        sampling: dict[str, Any] = {"do_sample": request.temperature > 0}
        if request.temperature > 0:
            sampling["temperature"] = request.temperature
            if request.seed is not None:
                torch.manual_seed(request.seed)
        started = time.perf_counter()
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=request.max_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **sampling,
            )
        new = output[0][prompt_tokens:]
        finished = (
            tokenizer.eos_token_id is not None and int(new[-1]) == tokenizer.eos_token_id
            if len(new)
            else True
        )
        return ChatResponse(
            text=tokenizer.decode(new, skip_special_tokens=True),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(new),
            seconds=time.perf_counter() - started,
            finish_reason="stop" if finished else "length",
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self._generate, request)

    async def aclose(self) -> None:
        with self._lock:
            self._loaded = None


def _merged_adapter(path: Path) -> Any:
    """The base model named in a LoRA adapter's config with the adapter merged in (merged, it
    decodes as fast as the base)."""
    try:
        from peft import AutoPeftModelForCausalLM
    except ImportError:
        raise AgenTracerError(
            f"LoRA adapters need the [train] extra: {INSTALL_TRAIN_EXTRA}"
        ) from None
    try:
        return AutoPeftModelForCausalLM.from_pretrained(path).merge_and_unload()
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(
            f"cannot load the LoRA adapter in {path} (is its base model still there?): "
            f"{str(error).splitlines()[0]}"
        ) from None
