"""Evaluation: ``run`` plays an agent on env x split slots (``slots``, a stratified ``sampling``), logs
episodes (``log``), scores them (``metrics``, ``bfcl``) into a schema-checked results file (``schema``);
``leaderboard`` tabulates results files."""
