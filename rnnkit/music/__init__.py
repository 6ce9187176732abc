"""Music: folk tunes and chorales as tokens, an n-gram baseline, evaluation, and output files.

- :mod:`~rnnkit.music.tune`: a melody (metre, key, bars of notes); key and metre parsing
- :mod:`~rnnkit.music.abc`: ABC tunes read with music21's ABC tokeniser
- :mod:`~rnnkit.music.folk`: folk-rnn style tokens (pitch, duration, bar lines)
- :mod:`~rnnkit.music.chorale`: four-voice sixteenth-note frames with fermatas (BachBot style)
- :mod:`~rnnkit.music.corpus`: music21's corpora or a folder; duplicates removed; the fixed split
- :mod:`~rnnkit.music.vocab`: token and condition vocabularies
- :mod:`~rnnkit.music.ngram`: smoothed n-gram baseline
- :mod:`~rnnkit.music.constraints`: the bar-full constraint for sampling
- :mod:`~rnnkit.music.write`: ABC, MusicXML and MIDI files
- :mod:`~rnnkit.music.synth`: a plucked-string synthesiser to WAV (numpy)
- :mod:`~rnnkit.music.pianoroll`: piano-roll PNG
- :mod:`~rnnkit.music.evaluate`: NLL against the n-gram, parse and bar-full shares, histogram distances
- :mod:`~rnnkit.music.quiet`: music21's stderr warnings counted into one note

music21 is an optional dependency (``pip install 'rnnkit[music]'``), imported only where used.
"""
