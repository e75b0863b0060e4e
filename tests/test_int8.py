"""The int8 path: the shipped ONNX export, its agreement with the PyTorch network, and separation without torch."""
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from shsep.data import get_clip, load_sources, stereo_mixture
from shsep.models import ModelConfig, build_model
from shsep.networks import (INT8_RUNTIMES, OnnxNetwork, TorchNetwork, file_sha1, int8_model_for, int8_runtime,
                            resolve_precision)
from shsep.paths import SHIPPED_MODEL, SONGS_MODEL, SONGS_MODELS
from shsep.separate import Separator


def snr_db(reference, estimate):
    return 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2))


@pytest.mark.parametrize("checkpoint", SONGS_MODELS)
def test_each_shipped_int8_model_is_an_export_of_its_shipped_checkpoint(checkpoint):
    network = OnnxNetwork(int8_model_for(checkpoint))
    assert network.source_sha1 == file_sha1(checkpoint), f"run `shsep export-int8 lib/shsep/weights/{checkpoint.name}`"
    payload = torch.load(checkpoint, weights_only=True)
    assert network.precision == "int8" and network.target == payload["config"]["target"]


def shapes_read_from_float_copies(path) -> int:
    """How many `Shape` nodes of an ONNX graph read a dequantised tensor (each costs a whole dequantisation)."""
    import onnx

    graph = onnx.load(str(path)).graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    return sum(producers.get(node.input[0]) == "DequantizeLinear" for node in graph.node if node.op_type == "Shape")


@pytest.mark.parametrize("checkpoint", SONGS_MODELS)
def test_each_shipped_int8_model_reads_sizes_from_int8_tensors(checkpoint):
    assert shapes_read_from_float_copies(int8_model_for(checkpoint)) == 0


def test_reading_shapes_before_dequantising_leaves_the_output_unchanged(tmp_path):
    """The rewiring undone on the shipped graph (every `Shape` back on a float copy) gives the same numbers."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    from shsep.onnx_export import read_shapes_before_dequantising

    model = onnx.load(str(int8_model_for(SONGS_MODEL)))
    producers = {output: node for node in model.graph.node for output in node.output}
    shapes = [node for node in model.graph.node if node.op_type == "Shape"]
    assert len(shapes) == 16
    for index, node in enumerate(shapes):  # as quantisation left them: a dequantised copy read by Shape alone
        quantise = producers[node.input[0]]
        assert quantise.op_type == "QuantizeLinear"
        copy = helper.make_node("DequantizeLinear", [node.input[0], *quantise.input[1:]], [f"float_copy_{index}"])
        model.graph.node.insert(list(model.graph.node).index(node), copy)
        node.input[0] = copy.output[0]
    onnx.save(model, str(tmp_path / "as_quantised.onnx"))
    assert shapes_read_from_float_copies(tmp_path / "as_quantised.onnx") == 16
    assert read_shapes_before_dequantising(model) == 16
    assert not any(node.output[0].startswith("float_copy_") for node in model.graph.node)
    onnx.save(model, str(tmp_path / "rewired.onnx"))
    windows = np.random.default_rng(0).random((1, 1, 512, 96), dtype=np.float32) ** 4
    outputs = [ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"]).run(None, {"mixture": windows})
               for name in ("as_quantised.onnx", "rewired.onnx")]
    for before, after in zip(*outputs):
        np.testing.assert_array_equal(before, after)


def test_auto_picks_int8_where_an_export_is_beside_the_checkpoint(tmp_path):
    assert resolve_precision("auto", "cpu", SONGS_MODEL) == "int8"
    assert resolve_precision("auto", "cpu", tmp_path / "other.pt") in ("fp32", "bf16")
    assert resolve_precision("auto", "cuda", SONGS_MODEL) == "bf16"
    assert resolve_precision("fp32", "cpu", SONGS_MODEL) == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int4")
    assert Separator.from_checkpoint(device="cpu", precision="auto").precision == "int8"


@pytest.mark.parametrize("runtime", INT8_RUNTIMES[1:])
@pytest.mark.parametrize("band", ["full", "park"])
def test_int8_stems_stay_close_to_the_fp32_stems(mir1k_root, band, runtime):
    """The tolerance: int8 stems within 20 dB SNR of the fp32 reference's (measured 25-26 dB on a 2-minute song;
    bf16 46 dB), in either runtime. Its quality on the validation songs is within 0.05 dB of fp32, and the two
    runtimes' within 0.003 dB of each other (docs/speed.md)."""
    sources = load_sources(get_clip("annar_3_04", mir1k_root))
    stereo = stereo_mixture(sources.accompaniment, sources.voice, 16000).mixture
    stems = {}
    for precision in ("fp32", "int8"):
        separator = Separator.from_checkpoint(SONGS_MODEL, device="cpu", precision=precision, windowing="long",
                                              int8_runtime=runtime)
        assert precision == "fp32" or separator.network.runtime == runtime
        stems[precision] = (separator.separate_full_band(stereo, 16000) if band == "full"
                            else separator.separate(sources.mixture, 16000))
    for reference, int8 in zip(stems["fp32"], stems["int8"]):
        assert snr_db(reference, int8) > 20


def test_the_default_pair_runs_in_int8_and_the_cpu_models_int8_stems_stay_close_to_fp32(mir1k_root):
    """`shsep separate` averages both shipped models, each in its int8 export; the cpu model's export is held to
    the songs model's tolerance (above)."""
    from shsep.networks import MeanNetwork

    pair = Separator.from_checkpoint(device="cpu", precision="auto")
    assert isinstance(pair.network, MeanNetwork) and pair.precision == "int8"
    assert all(isinstance(member, OnnxNetwork) for member in pair.network.members)
    sources = load_sources(get_clip("annar_3_04", mir1k_root))
    stereo = stereo_mixture(sources.accompaniment, sources.voice, 16000).mixture
    stems = [Separator.from_checkpoint(SHIPPED_MODEL, device="cpu", precision=precision, windowing="long")
             .separate_full_band(stereo, 16000) for precision in ("fp32", "int8")]
    for reference, int8 in zip(*stems):
        assert snr_db(reference, int8) > 20


def test_the_two_int8_runtimes_are_as_close_to_fp32_on_every_shape_of_windows():
    """OpenVINO compiles the first shape it sees on its own and runs the rest in a graph of free shape; on every
    shape its estimates are as close to the fp32 network's as ONNX Runtime's (to 1 dB of SNR)."""
    path = int8_model_for(SONGS_MODEL)
    runtimes = {name: OnnxNetwork(path, runtime=name) for name in INT8_RUNTIMES[1:]}
    assert runtimes["openvino"].source_sha1 == runtimes["onnxruntime"].source_sha1 == file_sha1(SONGS_MODEL)
    assert runtimes["openvino"].front_end == runtimes["onnxruntime"].front_end
    assert runtimes["openvino"].target == runtimes["onnxruntime"].target
    fp32 = Separator.from_checkpoint(SONGS_MODEL, device="cpu", precision="fp32").network
    rng = np.random.default_rng(3)
    for shape in [(1, 1, 512, 200), (3, 1, 512, 64), (1, 1, 512, 200)]:
        windows = rng.random(shape, dtype=np.float32) ** 4
        reference = fp32(windows)
        close = {}
        for name, network in runtimes.items():
            estimates = network(windows)
            assert [e.shape for e in estimates] == [(shape[0], 512, shape[3])] * 2
            close[name] = [snr_db(r, e) for r, e in zip(reference, estimates)]
        assert np.all(np.array(close["openvino"]) > np.array(close["onnxruntime"]) - 1), close


def test_a_network_warmed_up_in_the_background_gives_the_same_estimates():
    """`OnnxNetwork.warm_up` compiles OpenVINO's graph for a shape beside other work; the warmed-up shape then runs
    in that graph (not the graph of free shape), with the estimates of a network that compiled it at its first call."""
    path = int8_model_for(SONGS_MODEL)
    windows = np.random.default_rng(4).random((1, 1, 512, 96), dtype=np.float32) ** 4
    cold, warm = OnnxNetwork(path, runtime="openvino"), OnnxNetwork(path, runtime="openvino")
    warm.warm_up(windows.shape)
    warm.warm_up((2, 1, 512, 64))  # a later call changes nothing
    for a, b in zip(cold(windows), warm(windows)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert warm._free_request is None
    onnxruntime = OnnxNetwork(path, runtime="onnxruntime")
    onnxruntime.warm_up(windows.shape)  # nothing to compile
    for a, b in zip(OnnxNetwork(path, runtime="onnxruntime")(windows), onnxruntime(windows)):
        np.testing.assert_array_equal(a, b)


def test_auto_runs_int8_in_openvino_where_it_was_measured_faster_amx_or_avx2_alone(monkeypatch):
    import importlib.util

    import shsep.machine

    installed = {"onnxruntime", "openvino"}
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real_find_spec(name) if name in installed else None)
    for flags, expected in ((["avx2", "avx512f", "amx_int8"], "openvino"), (["avx2"], "openvino"),
                            (["avx2", "avx512f", "avx512_vnni"], "onnxruntime")):
        monkeypatch.setattr(shsep.machine, "simd_features", lambda flags=flags: flags)
        assert int8_runtime("auto") == expected
    installed = {"openvino"}  # no ONNX Runtime: OpenVINO on any CPU
    assert int8_runtime("auto") == "openvino"
    with pytest.raises(ValueError, match="needs it installed: pip install onnxruntime"):
        int8_runtime("onnxruntime")
    with pytest.raises(ValueError, match="the int8 runtime must be one of"):
        int8_runtime("tensorrt")


@pytest.mark.parametrize("runtime", INT8_RUNTIMES)
def test_separating_with_the_defaults_never_imports_torch(tmp_path, runtime):
    song = tmp_path / "song.wav"
    sf.write(song, np.random.default_rng(0).standard_normal((16000 * 3, 2)).astype(np.float32) * 0.1, 16000)
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch fails
            "from shsep.cli import main\n"
            f"sys.exit(main(['separate', {str(song)!r}, '-o', {str(tmp_path / 'out')!r}, "
            f"'--int8-runtime', {runtime!r}]))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["song_accompaniment.wav", "song_voice.wav"]


def test_a_stale_export_is_refused_for_int8_and_skipped_by_auto(tmp_path):
    from shsep.profiles import PROFILES

    checkpoint, config = tmp_path / "model.pt", PROFILES["smoke"].to_dict()
    model = build_model(ModelConfig(**config["model"]))
    torch.save({"model": model.state_dict(), "config": config, "step": 0}, checkpoint)
    shutil.copy(int8_model_for(SONGS_MODEL), int8_model_for(checkpoint))  # another checkpoint's export
    with pytest.raises(ValueError, match="exported from another checkpoint"):
        Separator.from_checkpoint(checkpoint, device="cpu", precision="int8")
    assert Separator.from_checkpoint(checkpoint, device="cpu", precision="auto").precision in ("fp32", "bf16")
    int8_model_for(checkpoint).unlink()
    with pytest.raises(ValueError, match="no int8 model"):
        Separator.from_checkpoint(checkpoint, device="cpu", precision="int8")


@pytest.mark.slow
@pytest.mark.parametrize("network", [{}, {"input_power": 0.5}, {"dense_frequency_bins": 512}])
def test_export_int8_writes_a_network_that_agrees_with_the_checkpoint(tmp_path, mir1k_root, network):
    from shsep.onnx_export import export_int8
    from shsep.profiles import get_profile

    torch.manual_seed(0)
    config = get_profile("smoke", **network).to_dict()
    model = build_model(ModelConfig(**config["model"]))
    with torch.no_grad():
        model.heads[-1].bias.fill_(0.5)  # masks of about 0.5: estimates that are not all zero
    checkpoint = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "config": config, "step": 0}, checkpoint)
    path = export_int8(checkpoint, data_root=mir1k_root, calibration_clips=4)
    assert path == tmp_path / "model.int8.onnx" and not list(tmp_path.glob(".*tmp*"))
    int8 = OnnxNetwork(path)
    assert int8.source_sha1 == file_sha1(checkpoint) and int8.target == config["target"]
    assert shapes_read_from_float_copies(path) == 0
    reference = TorchNetwork(model, config["target"], "cpu")
    windows = (np.random.default_rng(1).random((2, 1, 512, 80), dtype=np.float32) ** 6)
    for expected, got in zip(reference(windows), int8(windows)):
        assert got.shape == expected.shape == (2, 512, 80)
        assert snr_db(expected, got) > 15


@pytest.mark.parametrize("runtime", INT8_RUNTIMES[1:])
def test_a_damaged_int8_model_is_a_clear_error(tmp_path, runtime):
    damaged = tmp_path / "model.int8.onnx"
    damaged.write_bytes(b"not an onnx graph")
    with pytest.raises(ValueError, match="cannot read the int8 model"):
        OnnxNetwork(damaged, runtime=runtime)


def test_the_session_without_the_nchwc_rewrite_gives_the_default_sessions_numbers():
    """The float convolutions round differently without it, which can flip an int8 rounding here and there and
    carry on through the later layers: for the shipped model 2.3 % of the elements differ, 45-49 dB SNR between
    the two ONNX Runtime sessions (the model shipped before: 4 of 65536, over 100 dB), far below the int8 model's
    own error against fp32 (about 25 dB SNR)."""
    import onnxruntime as ort

    network = OnnxNetwork(int8_model_for(SONGS_MODEL), runtime="onnxruntime")
    default = ort.InferenceSession(str(network.path), providers=["CPUExecutionProvider"])
    windows = np.random.default_rng(2).random((1, 1, 512, 128), dtype=np.float32) ** 4
    for expected, got in zip(default.run(None, {"mixture": windows}), network(windows)):
        assert np.mean(~np.isclose(got, expected, rtol=1e-5, atol=1e-7)) < 0.05
        assert snr_db(expected, got) > 40


def test_the_int8_network_runs_without_onnxruntimes_memory_pattern():
    """About 100 MiB less at the default's peak, no slower (docs/speed.md, `--only instances`)."""
    import onnxruntime as ort

    from shsep.networks import DISABLED_OPTIMISERS

    network = OnnxNetwork(int8_model_for(SONGS_MODEL), runtime="onnxruntime")
    assert network.runner.get_session_options().enable_mem_pattern is False
    options = ort.SessionOptions()
    options.enable_mem_pattern = True
    with_pattern = ort.InferenceSession(str(network.path), options, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=DISABLED_OPTIMISERS)
    windows = np.random.default_rng(4).random((1, 1, 512, 128), dtype=np.float32) ** 4
    for expected, got in zip(with_pattern.run(None, {"mixture": windows}), network(windows)):
        np.testing.assert_array_equal(got, expected)  # it plans memory, not arithmetic
