"""The committed task files: schema-valid, unique, leak-free, and exactly what the generators make."""

import pytest

from tooluse_envs.generate import GENERATED_DOMAINS, main
from tooluse_envs.tasks import SPLITS, load_tasks


@pytest.mark.parametrize("domain", GENERATED_DOMAINS)
def test_ids_are_unique_and_test_id_repeats_no_training_question(domain):
    splits = {split: load_tasks(domain, split) for split in SPLITS}
    ids = [task.id for tasks in splits.values() for task in tasks]
    assert len(ids) == len(set(ids))
    train_questions = {(t.question, str(t.context)) for t in splits["train"]}
    leaked = [t.id for t in splits["test_id"] if (t.question, str(t.context)) in train_questions]
    assert not leaked, f"{len(leaked)} test_id tasks repeat a train question, e.g. {leaked[:3]}"
    for split, tasks in splits.items():
        assert all(task.split == split and task.domain == domain for task in tasks)


def test_committed_files_match_the_generators(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().out
