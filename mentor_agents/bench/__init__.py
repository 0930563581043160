"""The distillation benchmark grid (``mentor bench``): methods x seeds at equal compute, and its report.

``grid`` resolves the grid (one shared GRPO config for every RL cell, SFT steps matched in examples seen)
and runs it cell by cell, resumably; ``stats`` holds the means, Student-t CIs and paired differences;
``report`` writes ``bench.json`` (validated against ``bench.schema.json``), Markdown, HTML and plots.
"""
