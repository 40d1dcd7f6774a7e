"""The orchestrator: a short list of steps over the inputs and the numbers.

:mod:`.study` holds the core types (:class:`~.study.Study`, :class:`~.study.CircleResult`) that the output
writers read; the other modules are the steps (load a study, load facilities, run a circle, plan sites).
"""
