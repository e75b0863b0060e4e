"""shsep: music source separation with stacked hourglass networks (Park et al., ISMIR 2018).

One module per concern: `data` (MIR-1K), `spectrogram` (front end), `samplers`,
`models`, `targets` (training targets and loss), `profiles`, `train`, `separate`,
`evaluate`, `cli`.
"""

__version__ = "0.1.0"
