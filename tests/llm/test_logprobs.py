"""Prompt-token surprise from the embedded model: the window plan, the log-softmax, and the real
SmolLM2 run through xllamacpp in embedding mode."""

from pathlib import Path

import numpy
import pytest

from agentracer.llm.logprobs import SurpriseModel, output_matrix, token_nll, windows

pytest.importorskip("gguf")


def test_windows_score_every_token_once_and_hold_the_overlap() -> None:
    passes = windows(1000, anchor=20, window=200, overlap=50)
    assert passes[0] == (0, 0, 180)  # the first pass: anchor + 180 new tokens
    assert passes[1] == (130, 180, 310)  # then 50 tokens of overlap + 130 new ones
    scored = [i for _, first, end in passes for i in range(first, end)]
    assert scored == list(range(1000))
    for context_start, first, end in passes:
        assert 20 + end - context_start <= 200
        assert first - context_start == min(50, first)


def test_a_window_with_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        windows(10, anchor=100, window=128, overlap=28)


def test_token_nll_is_the_negative_log_softmax() -> None:
    rng = numpy.random.default_rng(0)
    hidden = rng.normal(size=(300, 8)).astype(numpy.float32)
    matrix = rng.normal(size=(50, 8)).astype(numpy.float32)
    targets = rng.integers(0, 50, size=300)
    logits = hidden.astype(numpy.float64) @ matrix.T.astype(numpy.float64)
    expected = numpy.log(numpy.exp(logits).sum(axis=1)) - logits[numpy.arange(300), targets]
    assert numpy.allclose(token_nll(hidden, targets, matrix), expected, atol=1e-4)


@pytest.fixture(scope="module")
def surprise_model(smollm2_path: Path) -> SurpriseModel:
    return SurpriseModel(smollm2_path, window=256, overlap=64, threads=1)


def test_the_output_matrix_is_the_vocabulary_by_hidden_size(smollm2_path: Path) -> None:
    assert output_matrix(smollm2_path).shape == (49152, 576)


def test_an_expected_word_is_less_surprising_than_an_absurd_one(
    surprise_model: SurpriseModel,
) -> None:
    likely = surprise_model.tokenize("The capital of France is Paris")
    absurd = surprise_model.tokenize("The capital of France is banana")
    assert likely[:-1] == absurd[:-1]
    paris = surprise_model.surprise(likely)[-1]
    banana = surprise_model.surprise(absurd)[-1]
    assert paris < 1.5 < 6.0 < banana
    assert numpy.isnan(surprise_model.surprise(likely)[0])  # no context for the first token


def test_special_tokens_in_a_log_are_scored_as_text(surprise_model: SurpriseModel) -> None:
    assert len(surprise_model.tokenize("<|im_start|>")) > 1


def test_windows_agree_with_one_pass_where_context_suffices(
    surprise_model: SurpriseModel, smollm2_path: Path
) -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()[:2500]
    tokens = surprise_model.tokenize(text)[:240]
    anchor = surprise_model.tokenize("Task: read the project's README.\n")
    whole = surprise_model.surprise(tokens, anchor)  # anchor + 240 tokens: one pass of 256
    small = SurpriseModel(smollm2_path, window=96, overlap=48, threads=1)
    windowed = small.surprise(tokens, anchor)
    assert not numpy.isnan(windowed).any() and not numpy.isnan(whole).any()
    late = slice(120, None)  # far from the start, both have at least 48 tokens of context
    assert numpy.corrcoef(whole[late], windowed[late])[0, 1] > 0.8
    assert abs(float(whole[late].mean() - windowed[late].mean())) < 0.6
