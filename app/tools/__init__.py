"""Tooling beside the app, not part of serving it: the demo catalog, the benchmark, the shared
evaluation report, the model card writer and the generated inputs they and the tests use.

    samples     generated inputs: mood clips and test tones (the one audio synthesizer), the
                astronaut camera frame
    demo        `python -m app demo`: the synthesized demo catalog, imported through the library
    bench       `python -m app bench`: the performance figures as one JSON object
    evaluation  the one metrics report of eval-face, eval-music and both trainings
    model_card  `python -m app.tools.model_card`: models/MODEL_CARD.md from the metrics files

Training stays with its model (`python -m app.vision.train`, `python -m app.music.train`).
"""
