"""shsep: music source separation with stacked hourglass networks (Park et al., ISMIR 2018).

One module per concern:

* data: MIR-1K: find it, index its clips, load them; stereo test songs built from clips
* audio: audio files in and out (any format ffmpeg reads; wav or flac out), in blocks
* spectrogram: Park's front end (8 kHz, STFT 1024 / 256, 512 bins, per-clip normalisation)
* samplers, dataset: training windows: where they start, and the cached spectrograms they come from
* models: Park's stacked hourglass graph and the report's variant
* targets: what the network predicts (masks, one mask, direct) and the loss
* profiles: named training configurations (smoke, cpu, ablation, paper, paper-growing)
* train, checkpoints: the training loop; atomic, resumable checkpoints
* separate: windowing and the network; Park's path and the full-band path
* masking: soft masks on the input's own STFT, the band above 4 kHz, the Wiener post-filter
* predict: files of any length, in bounded memory (what `shsep separate` runs)
* evaluate: BSS-eval, NSDR and the G-figures over a split, on either path
* report: the 2019 report's log and separations
* experiments: the ablation arms, their log and probes
* plots, notebook: figures and players for the notebooks; their set-up
* paths: where things live; atomic writes
* cli: the `shsep` command
"""

__version__ = "0.1.0"
