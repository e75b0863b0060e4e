import numpy as np
import pytest
import soundfile as sf
import torch

from shsep.checkpoints import CheckpointError
from shsep.data import DataError, get_clip, load_sources
from shsep.masking import SONGS_VOICE_GAIN
from shsep.models import ModelConfig, build_model
from shsep.paths import SHIPPED_MODEL, SONGS_MODEL
from shsep.predict import separate_file
from shsep.separate import Separator
from shsep.windowing import window_plan


@pytest.mark.parametrize("frames", [64, 65, 95, 96, 97, 128, 300, 1001])
def test_window_plan_fills_every_frame_once(frames):
    plan = window_plan(frames)
    filled = np.zeros(frames, int)
    for start, keep_from, keep_to in plan:
        assert start <= keep_from < keep_to <= start + 64
        filled[keep_from:keep_to] += 1
    assert np.all(filled == 1)
    assert plan[0][1] == 0 and plan[-1][0] == frames - 64
    for start, keep_from, keep_to in plan[1:-1]:
        assert (keep_from, keep_to) == (start + 16, start + 48)  # Park's centre crop


@pytest.mark.parametrize("frames", [64, 100, 513, 1000, 4999, 18750])
def test_long_windows_fill_every_frame_once_at_little_extra_work(frames):
    from shsep.windowing import WINDOWINGS, fitted_windows

    window, step = fitted_windows(frames, *WINDOWINGS["long"])
    assert window - step == 32 or window == frames  # 16 frames of seam on each side
    assert window % 16 == 0 or window == frames
    plan = window_plan(frames, window, step)
    filled = np.zeros(frames, int)
    for start, keep_from, keep_to in plan:
        filled[keep_from:keep_to] += 1
    assert np.all(filled == 1)
    assert len(plan) * window <= 1.15 * frames + 64  # Park's windows compute every frame twice
    assert fitted_windows(frames, *WINDOWINGS["park"]) == (64, 32)


def test_long_windows_and_bf16_stay_close_to_parks_windowing(mir1k_root):
    separator = Separator.from_checkpoint(SONGS_MODEL, device="cpu")
    sources = load_sources(get_clip("annar_3_04", mir1k_root))
    park = separator.separate(sources.mixture, 16000)
    for windowing, precision in (("long", "fp32"), ("park", "bf16")):
        other = Separator.from_checkpoint(SONGS_MODEL, device="cpu", windowing=windowing,
                                          precision=precision).separate(sources.mixture, 16000)
        for a, b in zip(park, other):
            error = 10 * np.log10(np.sum(a ** 2) / np.sum((a - b) ** 2))
            assert error > 10, (windowing, precision, error)  # the same separation (quality: benchmarks)
    with pytest.raises(ValueError, match="windowing"):
        Separator(separator.model, windowing="short")


@pytest.fixture(scope="module")
def tiny_separator():
    torch.manual_seed(0)
    model = build_model(ModelConfig("park", channels=8, stacks=2, depth=2))
    with torch.no_grad():
        model.heads[-1].bias.fill_(0.5)  # masks of about 0.5: audible estimates
    return Separator(model, batch_size=8)


def test_separator_runs_where_the_model_is():
    """Validation during GPU training hands a CUDA model over without naming a device (a crash once)."""
    model = build_model(ModelConfig("park", channels=8, stacks=1, depth=2)).to("meta")
    separator = Separator(model)
    assert separator.device.type == "meta" and separator.batch_size == 1
    named = Separator(build_model(ModelConfig("park", channels=8, stacks=1, depth=2)), device="cpu")
    assert named.device.type == "cpu" and next(named.model.parameters()).device.type == "cpu"


def test_batched_windows_equal_one_at_a_time(mir1k_root, tiny_separator):
    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    batched = tiny_separator.separate(sources.mixture, 16000)
    single = Separator(tiny_separator.model, batch_size=1).separate(sources.mixture, 16000)
    for a, b in zip(batched, single):
        np.testing.assert_allclose(a, b, atol=1e-5)
        assert len(a) == len(sources.mixture)


def test_shifts_average_the_estimates_of_windows_laid_later(tiny_separator):
    """Test-time averaging: shifts=2 is the mean of the pass on the magnitudes as they are and the pass on them
    delayed by 16 frames of silence (then realigned); shifts=1 is the plain pass."""
    magnitudes = np.random.default_rng(0).random((512, 150), dtype=np.float32)
    plain = Separator(tiny_separator.model, batch_size=8)
    shifted = Separator(tiny_separator.model, batch_size=8, shifts=2)
    assert plain.shift_offsets() == [0] and shifted.shift_offsets() == [0, 16]
    assert Separator(tiny_separator.model, shifts=4).shift_offsets() == [0, 8, 16, 24]
    once = plain.separate_magnitudes(magnitudes)
    later = plain.separate_magnitudes(np.pad(magnitudes, ((0, 0), (16, 0))))
    for averaged, first, second in zip(shifted.separate_magnitudes(magnitudes), once, later):
        assert averaged.shape == magnitudes.shape
        np.testing.assert_allclose(averaged, (first + second[:, 16:]) / 2, atol=1e-6)
        assert not np.allclose(averaged, first, atol=1e-4)  # the second pass did change the estimate
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="shifts must be a whole number of at least 1"):
            Separator(tiny_separator.model, shifts=bad)


def test_ideal_masks_through_the_synthesis_chain_recover_the_sources(mir1k_root):
    """Ideal masks + mixture phase + ISTFT + resampling back to 16 kHz: the chain separation uses."""
    from shsep.metrics import score_estimates
    from shsep.spectrogram import PARK, resample

    sources = load_sources(get_clip("annar_1_01", mir1k_root))
    low = [resample(x, 16000, 8000) for x in (sources.mixture, sources.accompaniment, sources.voice)]
    mixture_spec, *source_specs = (PARK.analyse(x) for x in low)
    phase = np.exp(1j * np.angle(mixture_spec))
    estimates = [resample(PARK.synthesise(np.abs(s) * phase, length=len(low[0])), 8000, 16000)[: len(sources.mixture)]
                 for s in source_specs]
    row = score_estimates(np.stack([sources.accompaniment, sources.voice]), np.stack(estimates), sources.mixture)
    assert row["voice_nsdr"] > 8 and row["accompaniment_nsdr"] > 8, row


def write(path, audio, rate):
    sf.write(path, audio, rate)
    return path


def noise(rate, channels, seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal((int(rate * seconds), channels)) * 0.1).astype(np.float32)


def snr_db(reference, estimate):
    return 10 * np.log10(np.sum(reference ** 2) / max(np.sum((reference - estimate) ** 2), 1e-30))


@pytest.mark.parametrize("rate, channels, seconds", [(44100, 2, 3.0), (48000, 2, 1.5), (22050, 1, 2.0),
                                                     (8000, 1, 0.7), (16000, 2, 0.01), (8000, 1, 0.01)])
@pytest.mark.parametrize("band", ["full", "park"])
def test_separate_file_keeps_rate_length_and_channels(tmp_path, tiny_separator, rate, channels, seconds, band):
    audio = noise(rate, channels, seconds)
    result = separate_file(tiny_separator, write(tmp_path / "song.wav", audio, rate), tmp_path / "out", band=band,
                           progress=False)
    assert result.stems.voice.name == "song_voice.wav" and result.stems.accompaniment.name == "song_accompaniment.wav"
    assert (result.sample_rate, result.channels) == (rate, channels)
    expected_channels = channels if band == "full" else 1  # Park's path is mono by design
    for path in result.stems:
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.channels) == (rate, len(audio), expected_channels)


@pytest.mark.parametrize("channels", ["downmix", "per-channel"])
def test_full_band_stems_add_up_to_the_input(tmp_path, tiny_separator, channels):
    audio = noise(44100, 2, 2.5)
    result = separate_file(tiny_separator, write(tmp_path / "song.wav", audio, 44100), tmp_path, channels=channels,
                           block_seconds=1.0, margin_seconds=0.5, progress=False)
    voice, accompaniment = sf.read(result.stems.voice)[0], sf.read(result.stems.accompaniment)[0]
    assert snr_db(audio, voice + accompaniment) > 60
    assert snr_db(audio, voice) < 20 and snr_db(audio, accompaniment) < 20  # each stem is a real part, not the whole


def test_wiener_stems_add_up_too(tiny_separator):
    audio = noise(16000, 2, 1.0).T
    stems = tiny_separator.separate_full_band(audio, 16000, wiener_iterations=1)
    assert stems.voice.shape == audio.shape
    assert snr_db(audio, stems.voice + stems.accompaniment) > 60


@pytest.fixture(scope="module")
def shipped_separator():
    """The songs model alone (`shsep separate` averages it with the cpu model)."""
    return Separator.from_checkpoint(SONGS_MODEL, device="cpu")


@pytest.fixture(scope="module")
def cpu_separator():
    """The cpu model, `shsep evaluate`'s default (Park's protocol)."""
    return Separator.from_checkpoint(SHIPPED_MODEL, device="cpu")


def band_part(audio, rate, low_hz, high_hz):
    """The part of audio between low_hz and high_hz (an ideal band-pass by FFT)."""
    spectrum = np.fft.rfft(audio, axis=-1)
    hz = np.fft.rfftfreq(audio.shape[-1], 1 / rate)
    spectrum[..., (hz < low_hz) | (hz > high_hz)] = 0
    return np.fft.irfft(spectrum, n=audio.shape[-1], axis=-1)


def captured_share(estimate, reference):
    """How much of the reference the estimate holds: its projection on the reference, as a share of the reference."""
    return float(np.sum(estimate * reference) / np.sum(reference ** 2))


def test_the_mapped_mask_lies_in_memory_like_the_stft_it_multiplies():
    """Each frame's bins contiguous in both: across two layouts the product strides through memory (the masks
    took 2.6x as long on a 60 s block of 44.1 kHz stereo). Values: interpolation between the low-rate bins."""
    from shsep.masking import map_mask, native_grid
    from shsep.spectrogram import FrontEnd

    native = native_grid(44100)
    mixture = native.analyse(np.zeros((2, 44100 * 3), np.float32))
    mask = np.tile(np.linspace(0, 1, 512, dtype=np.float32)[:, None], (1, 100))
    mapped = map_mask(mask, np.ones(100, np.float32), FrontEnd(), native, mixture.shape[-1])
    assert mapped.shape == mixture.shape[1:]
    assert mapped.strides[0] == mapped.itemsize and mixture.strides[1] == mixture.itemsize
    bin_hz = np.arange(native.num_bins) * 44100 / native.n_fft
    low = bin_hz < 3990  # below the last modelled bin: the linear ramp across the low-rate bins
    np.testing.assert_allclose(mapped[low, 0], bin_hz[low] / (8000 / 1024) / 511, atol=1e-5)
    np.testing.assert_allclose(mapped[bin_hz >= 4000, 0], 1)


def test_full_band_voice_carries_the_band_above_4_khz(mir1k_root, shipped_separator):
    """On a 44.1 kHz stereo mixture of a real clip, the voice stem holds much of the true voice's 4.5-7.8 kHz band
    and less of the accompaniment's; Park's path holds none of either."""
    from shsep.data import stereo_song

    song = stereo_song(["annar_1_01"], 44100, mir1k_root)
    full = shipped_separator.separate_full_band(song.mixture, 44100)
    park = shipped_separator.separate(song.mixture.mean(axis=0), 44100)
    voice_high, accompaniment_high = (band_part(x, 44100, 4500, 7800) for x in (song.voice, song.accompaniment))
    full_high = band_part(full.voice, 44100, 4500, 7800)
    assert full.voice.shape == song.mixture.shape
    assert captured_share(full_high, voice_high) > 0.3
    assert captured_share(full_high, accompaniment_high) < 0.8 * captured_share(full_high, voice_high)
    assert abs(captured_share(band_part(park.voice, 44100, 4500, 7800), voice_high.mean(axis=0))) < 0.01


def test_full_band_scores_no_lower_than_park_path_on_the_same_stereo_mixture(mir1k_root, shipped_separator):
    """Both paths separate the same stereo mixture (three clips joined); Park's path gives mono stems, so both
    are scored on the downmix (references and full-band stems averaged over channels)."""
    from shsep.data import stereo_song
    from shsep.metrics import score_estimates

    song = stereo_song(["abjones_1_01", "annar_1_01", "Ani_1_01"], 16000, mir1k_root)
    references = np.stack([song.accompaniment.mean(axis=0), song.voice.mean(axis=0)])
    mixture = song.mixture.mean(axis=0)
    full = score_estimates(references, np.stack([s.mean(axis=0) for s in
                                                 shipped_separator.separate_full_band(song.mixture, 16000)]), mixture)
    park = score_estimates(references, np.stack(shipped_separator.separate(mixture, 16000)), mixture)
    assert full["voice_sdr"] >= park["voice_sdr"] and full["accompaniment_sdr"] >= park["accompaniment_sdr"], (full, park)


def test_soft_mask_post_filter_splits_the_band_limited_mixture(mir1k_root, tiny_separator):
    """Park's path with the soft-mask post-filter: the two stems add up to the mixture as Park's path carries it
    (≤ 4 kHz: resampled to 8 kHz, STFT without its top bin, ISTFT, resampled back), and differ from Park's own."""
    from shsep.evaluate import evaluate
    from shsep.separate import _fit_length
    from shsep.spectrogram import resample

    mixture = load_sources(get_clip("annar_1_01", mir1k_root)).mixture
    soft = Separator(tiny_separator.model, batch_size=8, post_filter="soft-mask")
    stems = soft.separate(mixture, 16000)
    low, spec = soft.resample_and_analyse(mixture, 16000)
    carried = _fit_length(resample(soft.front_end.synthesise(spec, length=len(low)), 8000, 16000), len(mixture))
    np.testing.assert_allclose(stems.accompaniment + stems.voice, carried, atol=1e-4 * np.abs(carried).max())
    assert not np.allclose(stems.voice, tiny_separator.separate(mixture, 16000).voice, atol=1e-3)
    with pytest.raises(ValueError, match="post_filter must be one of"):
        Separator(tiny_separator.model, post_filter="wiener")
    with pytest.raises(ValueError, match="applies to Park's path"):
        evaluate(band="full", post_filter="soft-mask", data_root=mir1k_root, max_clips=1)


@pytest.mark.parametrize("model, clip, expected", [
    ("songs", "annar_1_01", {"accompaniment_nsdr": 9.1297, "voice_nsdr": 9.7939, "accompaniment_sdr": 9.1772, "voice_sdr": 9.8316}),
    ("songs", "abjones_1_01", {"accompaniment_nsdr": 10.9248, "voice_nsdr": 10.9483, "accompaniment_sdr": 11.0237, "voice_sdr": 11.1361}),
    ("cpu", "annar_1_01", {"accompaniment_nsdr": 10.5485, "voice_nsdr": 9.9021, "accompaniment_sdr": 10.5961, "voice_sdr": 9.9399}),
    ("cpu", "abjones_1_01", {"accompaniment_nsdr": 11.2971, "voice_nsdr": 11.2878, "accompaniment_sdr": 11.3960, "voice_sdr": 11.4756}),
])
def test_park_path_figures_are_unchanged(mir1k_root, request, model, clip, expected):
    """Each shipped model's Park-path scores, pinned when it was shipped: the songs model (`cpu-resolution-all`, the
    recipe with a multi-resolution spectral loss, refitted on all 175 training clips, 2026-11-29) and the cpu model
    (`cpu-dense-frequency-all`, the same with dense layers across frequency, 2026-12-06). The earlier models' pins
    (commits ea7b464, 7c84d20, 2fe47aa, 91241e3, d9f7064, e207466 and d2da955) held on this code until each was
    replaced."""
    from shsep.evaluate import separate_and_score

    separator = request.getfixturevalue("shipped_separator" if model == "songs" else "cpu_separator")
    row = separate_and_score(separator, load_sources(get_clip(clip, mir1k_root)))
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, abs=0.01), key


@pytest.mark.parametrize("rate", [44100, 16000])
def test_full_band_stems_do_not_depend_on_the_block_length(tmp_path, shipped_separator, mir1k_root, rate):
    """The network sees the whole file's low-rate signal once; blocks only apply its masks, so 1 s blocks
    give the stems of one block up to float rounding, and both those of the song separated in memory.
    Running the network in 1 s segments instead does change them: the comparison can fail."""
    from shsep.data import stereo_song

    song = stereo_song(["annar_1_01"], rate, mir1k_root).mixture[:, : int(4.3 * rate)]
    path = write(tmp_path / "song.wav", song.T, rate)
    runs = {name: separate_file(shipped_separator, path, tmp_path / name, progress=False, **options).stems
            for name, options in [("whole", {}), ("blocks", dict(block_seconds=1.0)),
                                  ("segments", dict(block_seconds=1.0, segment_seconds=1.0, margin_seconds=0.5))]}
    read = {name: sf.read(stems.voice, always_2d=True)[0] for name, stems in runs.items()}
    assert read["whole"].shape == read["blocks"].shape == song.T.shape
    assert snr_db(song.T, read["whole"]) < 20  # a real voice estimate, not the input
    np.testing.assert_allclose(read["blocks"], read["whole"], atol=1e-5)
    assert np.abs(read["segments"] - read["whole"]).max() > 1e-3
    decoded = sf.read(path, dtype="float32", always_2d=True)[0].T  # the file holds 16-bit samples
    # what `evaluate-musdb` scores (and `evaluate --band full`, with its own voice gain)
    in_memory = shipped_separator.separate_full_band(decoded, rate, voice_gain=SONGS_VOICE_GAIN)
    np.testing.assert_allclose(read["whole"], in_memory.voice.T, atol=1e-5)


def test_the_voice_gain_scales_the_voice_estimate_in_the_mask(mir1k_root, tiny_separator):
    """A gain g turns the soft mask m = v / (v + a) into g·v / (g·v + a), the high band's too (band-ratio reads
    the same estimates); gain 1 is the network's own mask, and a gain that is not positive is refused."""
    low = load_sources(get_clip("abjones_1_01", mir1k_root)).mixture[:16000:2]  # 1 s, near enough 8 kHz
    mask, high = tiny_separator.low_rate_masks(low, voice_gain=1.0)
    doubled, doubled_high = tiny_separator.low_rate_masks(low, voice_gain=2.0)
    np.testing.assert_allclose(doubled, 2 * mask / (1 + mask), atol=1e-4)
    np.testing.assert_allclose(doubled_high, 2 * high / (1 + high), atol=1e-4)
    assert (doubled >= mask - 1e-6).all() and (doubled > mask + 1e-3).any()
    np.testing.assert_array_equal(tiny_separator.low_rate_masks(low, voice_gain=np.float32(2))[0], doubled)
    for bad in (0, -1.0, float("nan"), "2", None):
        with pytest.raises(ValueError, match="the voice gain is a positive number"):
            tiny_separator.low_rate_masks(low, voice_gain=bad)


def test_a_file_is_separated_with_the_voice_gain_for_songs_and_a_bad_gain_writes_nothing(tmp_path, tiny_separator,
                                                                                         mir1k_root):
    from shsep.data import stereo_song

    song = stereo_song(["abjones_1_01"], 16000, mir1k_root).mixture[:, :16000]
    path = write(tmp_path / "song.wav", song.T, 16000)
    decoded = sf.read(path, dtype="float32", always_2d=True)[0].T
    written = sf.read(separate_file(tiny_separator, path, tmp_path / "out", progress=False).stems.voice)[0].T
    for gain, same in ((SONGS_VOICE_GAIN, True), (1.0, False)):
        in_memory = tiny_separator.separate_full_band(decoded, 16000, voice_gain=gain).voice
        assert np.allclose(written, in_memory, atol=1e-5) == same
    with pytest.raises(ValueError, match="the voice gain is a positive number"):
        separate_file(tiny_separator, path, tmp_path / "bad", voice_gain=0.0, progress=False)
    assert not (tmp_path / "bad").exists()


class _RecordingNetwork:
    """A network that records the shape it was warmed up for and the shapes it was given."""

    def __init__(self, network):
        self.network, self.warmed, self.shapes = network, [], []
        self.target, self.device = network.target, network.device

    def warm_up(self, shape):
        self.warmed.append(shape)

    def __call__(self, windows):
        self.shapes.append(windows.shape)
        return self.network(windows)


@pytest.mark.parametrize("windowing, batch_size, shifts", [("long", 1, 1), ("long", 4, 2), ("park", 1, 1),
                                                           ("park", 8, 4)])
@pytest.mark.parametrize("seconds, options", [(0.05, {}), (7.0, {}), (40.0, {}), (13.0, dict(wiener_iterations=1)),
                                              (9.0, dict(block_seconds=2.0, segment_seconds=4.0))])
def test_the_network_is_warmed_up_for_the_first_windows_it_is_given(tmp_path, windowing, batch_size, shifts,
                                                                    seconds, options):
    """An OpenVINO network compiles its graph for that shape while the file is decoded (`OnnxNetwork.warm_up`)."""
    model = build_model(ModelConfig("park", channels=8, stacks=1, depth=2))
    separator = Separator(model, windowing=windowing, batch_size=batch_size, shifts=shifts)
    separator.network = recording = _RecordingNetwork(separator.network)
    path = tmp_path / "song.wav"
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, (int(seconds * 44100), 2)).astype(np.float32), 44100)
    separate_file(separator, path, tmp_path / "out", progress=False, **options)
    assert recording.warmed == [recording.shapes[0]]


def test_the_stream_resampler_matches_resampling_the_whole_signal():
    from shsep.spectrogram import StreamResampler, resample

    signal = noise(44100, 1, 3.1, seed=3)[:, 0]
    for target in (8000, 44100):
        resampler = StreamResampler(44100, target)
        pieces = [resampler.push(signal[i: i + 10000], last=i + 10000 >= len(signal))
                  for i in range(0, len(signal), 10000)]
        np.testing.assert_allclose(np.concatenate(pieces), resample(signal, 44100, target), atol=1e-6)


@pytest.mark.parametrize("band, channels", [("full", "downmix"), ("full", "per-channel"), ("park", "downmix")])
def test_blocks_join_without_seams_in_every_channel(tmp_path, tiny_separator, mir1k_root, band, channels):
    from shsep.data import stereo_song

    song = stereo_song(["annar_1_01"], 16000, mir1k_root)
    path = write(tmp_path / "clip.flac", song.mixture.T, 16000)
    options = dict(band=band, channels=channels, progress=False)
    whole = separate_file(tiny_separator, path, tmp_path / "whole", **options).stems
    blocks = separate_file(tiny_separator, path, tmp_path / "blocks", block_seconds=2.0, margin_seconds=2.0,
                           segment_seconds=4.0, **options).stems  # the full band: the network in 4 s segments
    for stem in ("voice", "accompaniment"):
        a, b = sf.read(getattr(whole, stem), always_2d=True)[0], sf.read(getattr(blocks, stem), always_2d=True)[0]
        assert a.shape == b.shape and a.shape[0] == song.mixture.shape[1]
        for channel in range(a.shape[1]):
            assert snr_db(a[:, channel], b[:, channel]) > 30  # at most -30 dB of difference at the seams


def test_only_the_stems_asked_for_are_written_as_flac(tmp_path, tiny_separator):
    result = separate_file(tiny_separator, write(tmp_path / "a.wav", noise(16000, 2, 0.5), 16000), tmp_path / "out",
                           stems=("voice",), file_format="flac", progress=False)
    assert result.stems.accompaniment is None and result.stems.voice.suffix == ".flac"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_voice.flac"]
    assert sf.info(result.stems.voice).channels == 2


def test_mp3_input(tmp_path, tiny_separator):
    audio = np.stack([np.sin(np.linspace(0, 2000, 44100)), np.sin(np.linspace(0, 3000, 44100))], axis=1) * 0.3
    path = write(tmp_path / "wav.wav", audio.astype(np.float32), 44100)
    mp3 = tmp_path / "tone.mp3"
    try:
        sf.write(mp3, audio, 44100, format="MP3")
    except Exception:
        import shutil
        import subprocess

        if not shutil.which("ffmpeg"):
            pytest.skip("neither libsndfile nor ffmpeg can write mp3 here")
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), str(mp3)], check=True)
    result = separate_file(tiny_separator, mp3, tmp_path / "out", progress=False)
    info = sf.info(result.stems.voice)
    assert (info.samplerate, info.channels) == (44100, 2) and abs(info.frames - 44100) < 2000  # mp3 pads a little


def test_silence_is_handled(tmp_path, tiny_separator):
    result = separate_file(tiny_separator, write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000),
                           tmp_path, progress=False)
    assert np.all(sf.read(result.stems.voice)[0] == 0) and np.all(sf.read(result.stems.accompaniment)[0] == 0)


def test_missing_unreadable_and_empty_inputs(tmp_path, tiny_separator):
    with pytest.raises(DataError, match="input not found"):
        separate_file(tiny_separator, tmp_path / "nope.wav", tmp_path, progress=False)
    (tmp_path / "bad.mp3").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="cannot read"):
        separate_file(tiny_separator, tmp_path / "bad.mp3", tmp_path, progress=False)
    with pytest.raises(DataError, match="no audio samples"):
        separate_file(tiny_separator, write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000), tmp_path, progress=False)


def test_bad_options_are_refused_clearly(tmp_path, tiny_separator):
    path = write(tmp_path / "a.wav", noise(8000, 1, 0.2), 8000)
    with pytest.raises(ValueError, match="band must be one of"):
        separate_file(tiny_separator, path, tmp_path, band="wide", progress=False)
    with pytest.raises(ValueError, match="stems must be among"):
        separate_file(tiny_separator, path, tmp_path, stems=("drums",), progress=False)
    with pytest.raises(ValueError, match="high-band rule must be one of"):
        separate_file(tiny_separator, path, tmp_path, high_band="magic", progress=False)


def test_cli_separate_prints_one_line_per_file(tmp_path, capsys, monkeypatch):
    from shsep import cli, separate

    model = build_model(ModelConfig("park", channels=8, stacks=2, depth=2))
    monkeypatch.setattr(separate.Separator, "from_checkpoint", classmethod(lambda cls, *a, **k: cls(model)))
    path = write(tmp_path / "song.wav", noise(44100, 2, 0.5), 44100)
    assert cli.main(["separate", str(path), "-o", str(tmp_path / "out"), "--stems", "accompaniment"]) == 0
    line = capsys.readouterr().out.strip()
    assert "44100 Hz, stereo, 0.5 s" in line and line.endswith("song_accompaniment.wav")


def test_unwritable_output_directory(tmp_path, tiny_separator):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot write to output directory"):
        separate_file(tiny_separator, write(tmp_path / "a.wav", np.zeros(800, np.float32), 8000), blocker / "sub",
                      progress=False)


def test_checkpoint_of_wrong_architecture(tmp_path):
    from shsep.profiles import PROFILES

    config = PROFILES["smoke"].to_dict()
    weights = build_model(ModelConfig("report", channels=8, stacks=2, depth=2)).state_dict()
    torch.save({"model": weights, "config": config}, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        Separator.from_checkpoint(tmp_path / "wrong.pt", device="cpu")


def test_stage_timings_cover_the_separation(tmp_path, tiny_separator):
    """The benchmark's per-stage table: every stage of a full-band separation is timed, and nothing is counted twice."""
    import time

    from shsep.stages import STAGES, collecting

    audio = noise(44100, 2, 3.0)
    path = write(tmp_path / "song.wav", audio, 44100)
    with collecting() as stages:
        start = time.perf_counter()
        separate_file(tiny_separator, path, tmp_path / "out", progress=False)
        total = time.perf_counter() - start
    assert set(stages) <= set(STAGES)
    assert {"decode", "resample", "analysis STFT", "network", "masks", "native STFT", "synthesis", "write"} <= set(stages)
    assert sum(stages.values()) <= total
    with collecting() as outside:
        pass
    separate_file(tiny_separator, path, tmp_path / "out", progress=False)
    assert outside == {}  # off outside the block


class _FixedNetwork:
    """A stand-in network whose estimates are constants, recording the settings it is given."""

    def __init__(self, accompaniment, voice, precision):
        self.values, self.precision, self.target, self.device = (accompaniment, voice), precision, "masks", "cpu"
        self.shrink_arena, self.warmed = False, []

    def warm_up(self, shape):
        self.warmed.append(shape)

    def __call__(self, windows):
        return tuple(np.full(windows[:, 0].shape, value, np.float32) for value in self.values)


def test_a_mean_network_averages_its_members_estimates_and_passes_settings_on():
    from shsep.networks import MeanNetwork

    first, second = _FixedNetwork(1.0, 4.0, "int8"), _FixedNetwork(3.0, 0.0, "fp32")
    mean = MeanNetwork([first, second])
    accompaniment, voice = mean(np.zeros((2, 1, 8, 5), np.float32))
    assert accompaniment.shape == voice.shape == (2, 8, 5)
    assert np.all(accompaniment == 2.0) and np.all(voice == 2.0)
    assert mean.precision == "int8+fp32" and mean.target == "masks"
    mean.shrink_arena = True
    assert first.shrink_arena and second.shrink_arena and mean.shrink_arena
    mean.warm_up((1, 1, 8, 5))
    assert first.warmed == second.warmed == [(1, 1, 8, 5)]
    assert MeanNetwork([first, first])(np.zeros((1, 1, 8, 5), np.float32))[0].max() == 1.0  # no member changed
    with pytest.raises(ValueError, match="at least two"):
        MeanNetwork([first])


def test_the_default_separator_averages_the_two_shipped_models():
    """`shsep separate`'s default: the songs and cpu models' estimates averaged, window by window."""
    from shsep.networks import MeanNetwork
    from shsep.separate import checkpoint_paths, trained_or_shipped

    pair = Separator.from_checkpoint(device="cpu", windowing="long")
    assert isinstance(pair.network, MeanNetwork) and pair.precision == "fp32"
    assert checkpoint_paths(None) == [SONGS_MODEL, SHIPPED_MODEL] == list(trained_or_shipped("no-such-run", True)[0])
    assert pair.checkpoint_label == "lib/shsep/weights/songs.pt + lib/shsep/weights/cpu.pt"  # as summaries record it
    magnitudes = np.random.default_rng(0).random((512, 300), dtype=np.float32) ** 4
    averaged = pair.separate_magnitudes(magnitudes)
    alone = [Separator.from_checkpoint(path, device="cpu", windowing="long").separate_magnitudes(magnitudes)
             for path in (SONGS_MODEL, SHIPPED_MODEL)]
    for source in range(2):
        np.testing.assert_allclose(averaged[source], (alone[0][source] + alone[1][source]) / 2, rtol=1e-4, atol=1e-6)
    assert np.abs(alone[0][1] - alone[1][1]).max() > 1e-3  # two different models


def test_models_with_different_front_ends_are_not_averaged(tmp_path):
    from shsep.checkpoints import read_checkpoint, save_atomic

    wide = read_checkpoint(SHIPPED_MODEL)
    wide["config"]["front_end"] = {"sample_rate": 16000}
    save_atomic(wide, tmp_path / "wide.pt")
    with pytest.raises(ValueError, match="only models with one front end can be averaged"):
        Separator.from_checkpoint([SONGS_MODEL, tmp_path / "wide.pt"], device="cpu")
    with pytest.raises(ValueError, match="no checkpoint given"):
        Separator.from_checkpoint([], device="cpu")
