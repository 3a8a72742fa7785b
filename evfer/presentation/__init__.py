"""Presentation: what evfer shows people — pictures of events, plots, the run report and the
prediction video. It reads events, run folders and predictions; it computes nothing a result depends
on, and training, evaluation and the command line call it.

- :mod:`.drawing` — event frames (ON red, OFF blue), voxel montages, animated GIFs (``evfer render``);
- :mod:`.plots` — training curves and confusion matrices (PNG files);
- :mod:`.html` — the small pieces of a self-contained HTML page (escaped text, tables, embedded PNGs);
- :mod:`.run_files` — reading what a run or a cross-validation folder holds;
- :mod:`.report` — ``report.html`` of a run, a cross-validation or a repeated cross-validation;
- :mod:`.prediction_video` — the video of what the model saw and said (``evfer predict --render``).
"""
