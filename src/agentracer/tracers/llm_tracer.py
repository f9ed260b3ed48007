"""What every LLM tracer shares: its model, its options, fitting the log into the context
window, and turning model answers into a `Verdict` with its cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentracer.errors import AgenTracerError, ContextLengthError
from agentracer.llm import ChatModel, ChatRequest, ChatResponse, get_model, usage_of
from agentracer.llm.client import default_model_name
from agentracer.llm.context import Messages, fit_contents, prompt_length
from agentracer.tracers.base import Tracer, TracerSettings
from agentracer.tracers.parsing import Parsed
from agentracer.tracers.structure import structure
from agentracer.trajectory import ParseStatus, Trajectory, Usage, Verdict

CHARS_PER_TOKEN = 3  # conservative for prose and code; a server's context error corrects it
RESERVED_TOKENS = 400  # instructions and chat template around the log
MAX_SHORTENINGS = 4
# What is sent at most when the model's window is unknown (a server's context error would
# only come after uploading it): -o max_prompt_chars=N changes it.
DEFAULT_MAX_PROMPT_CHARS = 512_000


class LLMTracerOptions(BaseModel):
    """Options of the LLM tracers (`--option key=value`)."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(default=512, ge=16)
    temperature: float = Field(default=0.0, ge=0)
    step_numbers: bool = Field(default=False, description="all-at-once: number the log's entries")
    max_prompt_chars: int = Field(
        default=DEFAULT_MAX_PROMPT_CHARS,
        ge=1000,
        description="cap on the prompt's characters when the model's context window is unknown",
    )


@dataclass
class Transcript:
    """The calls made for one verdict: outputs, cost, notes, and the prompt size (characters)
    that fits the model's window, when known."""

    prompt_chars: int | None
    capped: bool = False  # prompt_chars is the cap for an unknown window, not a known window
    usage: Usage = field(default_factory=Usage)
    outputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The step contents as fitted for `prompt_chars`, kept for the verdict's later calls: cut
    # once, they stay byte-identical, so the prompt prefix a server cached is reused.
    fitted: tuple[int | None, list[str], int] | None = None


class LLMTracer(Tracer):
    """Base for tracers that ask a model; subclasses implement `attribute` with `ask`."""

    default_max_tokens = 512

    def __init__(
        self, model: ChatModel, options: LLMTracerOptions | None = None, seed: int = 0
    ) -> None:
        self.model = model
        self.options = options or LLMTracerOptions(max_tokens=self.default_max_tokens)
        self.seed = seed

    def start(self, trajectory: Trajectory) -> Transcript:
        """A transcript whose prompt budget fits the model's window, when the window is known."""
        window = self.model.context_window
        if window is None:
            return Transcript(prompt_chars=self.options.max_prompt_chars, capped=True)
        tokens = window - self.options.max_tokens - RESERVED_TOKENS
        return Transcript(prompt_chars=max(0, tokens * CHARS_PER_TOKEN))

    async def ask(
        self,
        trajectory: Trajectory,
        transcript: Transcript,
        build: Callable[[list[str]], list[dict[str, str]]],
        grammar: str | None = None,
    ) -> ChatResponse:
        """Ask the model the prompt `build` makes from the (fitted) step contents.

        When the server says the prompt is too long, the contents are cut further, in
        proportion to how far over the window it was, and the question is asked again.
        """
        for _ in range(MAX_SHORTENINGS + 1):
            fitted, trimmed = self._fitted(trajectory, transcript, build)
            messages = build(fitted)
            request = ChatRequest(
                messages=messages,
                temperature=self.options.temperature,
                max_tokens=self.options.max_tokens,
                seed=self.seed,
                grammar=grammar,
            )
            try:
                response = await self.model.chat(request)
            except ContextLengthError as error:
                transcript.prompt_chars = self._shrink(prompt_length(messages), error)
                transcript.capped = False
                continue
            if trimmed and transcript.capped:
                note = (
                    f"log shortened to the {self.options.max_prompt_chars}-character cap for a "
                    f"model whose context window is unknown: {trimmed} step contents cut in the "
                    "middle (-o max_prompt_chars=N changes the cap)"
                )
                if note not in transcript.notes:
                    transcript.notes.append(note)
            elif trimmed:
                note = f"log shortened to fit the context window: {trimmed} step contents cut in the middle"
                if note not in transcript.notes:
                    transcript.notes.append(note)
            transcript.usage = transcript.usage + usage_of(response)
            transcript.outputs.append(response.text)
            return response
        raise ContextLengthError(
            f"the log of {trajectory.id} does not fit {self.model.name}'s context window even "
            f"after shortening it {MAX_SHORTENINGS} times"
        )

    def _fitted(
        self,
        trajectory: Trajectory,
        transcript: Transcript,
        build: Callable[[list[str]], Messages],
    ) -> tuple[list[str], int]:
        """The step contents cut to the transcript's prompt size (see `fit_contents`), and how
        many were cut. The first call of a verdict decides the cut; later calls with the same
        prompt size reuse it, so every call of the verdict shows the same log, byte for byte,
        even though their questions differ in length."""
        if transcript.fitted is not None and transcript.fitted[0] == transcript.prompt_chars:
            return transcript.fitted[1], transcript.fitted[2]
        contents = [step.content for step in trajectory.steps]
        budget = transcript.prompt_chars
        if budget is not None:
            budget -= prompt_length(build([""] * len(contents)))  # instructions, task, prefixes
        fitted, trimmed = fit_contents(contents, budget)
        transcript.fitted = (transcript.prompt_chars, fitted, trimmed)
        return fitted, trimmed

    def _shrink(self, used: int, error: ContextLengthError) -> int:
        """A smaller prompt size after a refusal: in proportion to the overshoot when the
        server said it, else by 40%."""
        if error.prompt_tokens and error.context_window:
            room = error.context_window - self.options.max_tokens - 64
            return max(0, int(used * room / error.prompt_tokens * 0.9))
        return int(used * 0.6)

    def verdict(
        self,
        parsed: Parsed,
        transcript: Transcript,
        trajectory: Trajectory,
        *,
        status: ParseStatus | None = None,
    ) -> Verdict:
        """The verdict for what was parsed, with every output, the cost and the notes, made
        consistent by the one documented rule (`structure.resolve`) and given evidence, a MAST
        category and a suggested fix. LLM tracers give no `confidence`: a model's own statement
        of confidence is not calibrated, and we do not invent one."""
        verdict = Verdict(
            agent=parsed.agent,
            step=parsed.step,
            reason=parsed.reason,
            tracer=self.name,
            raw_output="\n\n---\n\n".join(transcript.outputs),
            parse_status=status or parsed.status,
            usage=transcript.usage,
            notes=[*transcript.notes, *parsed.notes],
        )
        return structure(verdict, trajectory)

    async def aclose(self) -> None:
        await self.model.aclose()


def llm_factory(cls: type[LLMTracer]) -> Callable[[TracerSettings], Tracer]:
    """A registry factory that builds `cls` on the settings' model (or the default model)."""

    def build(settings: TracerSettings) -> Tracer:
        try:
            options = LLMTracerOptions(**{"max_tokens": cls.default_max_tokens, **settings.options})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(map(str, first["loc"]))
            raise AgenTracerError(f"bad option for {cls.name}: {where}: {first['msg']}") from None
        name = settings.model or default_model_name(settings.connection)
        return cls(get_model(name, settings.connection), options, seed=settings.seed)

    return build
