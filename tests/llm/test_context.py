from agentracer.llm.context import MARKER, MIN_KEEP, cut_middle, fit_contents


def test_contents_that_fit_are_untouched() -> None:
    contents = ["a" * 10, "b" * 20]
    assert fit_contents(contents, 30) == (contents, 0)
    assert fit_contents(contents, None) == (contents, 0)


def test_only_long_contents_are_cut_and_none_is_dropped() -> None:
    contents = ["short", "x" * 5000, "y" * 3000, "end"]
    fitted, cut = fit_contents(contents, 2000)
    assert len(fitted) == 4 and cut == 2
    assert fitted[0] == "short" and fitted[3] == "end"
    assert sum(map(len, fitted)) <= 2000 + 2 * 40  # the markers' own length
    assert (
        fitted[1].startswith("x") and fitted[1].endswith("x") and "characters omitted" in fitted[1]
    )


def test_cut_middle_keeps_both_ends_within_the_limit() -> None:
    text = "BEGIN " + "m" * 1000 + " END"
    cut = cut_middle(text, 100)
    assert cut.startswith("BEGIN") and cut.endswith("END") and "characters omitted" in cut
    assert len(cut) <= 100
    omitted = int(cut.split("[…")[1].split(" ")[0])
    kept = len(cut) - len(MARKER.format(omitted))
    assert kept + omitted == len(text)  # the marker tells exactly how much is gone


def test_a_tiny_budget_still_keeps_something_of_every_step() -> None:
    fitted, _ = fit_contents(["z" * 500] * 10, 10)
    assert all(len(c.replace(" ", "")) >= MIN_KEEP for c in fitted)
