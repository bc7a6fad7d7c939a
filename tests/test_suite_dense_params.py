"""A dense target's `params:` in a suite are checked by the dense model's rules, as on the command line."""
import pytest

from pacabench.runner.suite import SuiteError, parse_suite

DETECTOR = "det:maskrcnn:pacavit_tiny_p2cconv_100_0"
SEGMENTER = "seg:upernet:swin_tiny_patch4_window7_224"


def _suite(model: str, params: str) -> str:
    return f"name: dense\ntargets:\n  - model: {model}\n    params: {params}\nresolutions: [800x1280]\n"


def test_a_dense_model_takes_its_own_parameters():
    suite = parse_suite(_suite(DETECTOR, "{num_classes: 91, clusters: [100, 100, 100, 0]}"))
    assert suite.targets[0].spec == ("model", DETECTOR, {"num_classes": 91, "clusters": [100, 100, 100, 0]})


@pytest.mark.parametrize("model,params,allowed", [
    (SEGMENTER, "{features_only: true}", "num_classes, fused_attn"),      # passed, then every cell failed
    (DETECTOR, "{out_indices: [0]}", "clusters, num_classes, fused_attn"),
])
def test_a_parameter_the_dense_model_does_not_take_is_refused_naming_its_own(model, params, allowed):
    with pytest.raises(SuiteError) as refused:
        parse_suite(_suite(model, params))
    key = params[1:].split(":")[0]
    assert refused.value.problems == [f"<suite>: targets[0].params: {model}: unknown parameter {key!r}; "
                                      f"allowed: {allowed}"]
