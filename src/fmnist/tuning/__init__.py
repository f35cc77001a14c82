"""The tuning chapter's search, one module per job as KerasTuner lays out its own package.

- `folders`: where a search lives on disk and which trials it holds, read without TensorFlow
- `space`: the searched values: KerasTuner choices, a trial's configuration and its seed
- `hypermodel`: `CnnHyperModel`, which builds and trains one trial with the CNN chapter's code
- `tuners`: the tuner a profile names, timed and resumable whatever the process's role
- `repair`: the search's saved state kept consistent, and repaired after a stop or a full disk
- `selection`: choosing among finished trials, and what they show (pure functions)
- `distribute`: a profile's search in this process, or as a chief oracle and N workers
- `ahead`: the search as a process of its own, run by the report beside the model chapters
- `steps`: the tuning chapter's steps, in the order the chapter calls them

Nothing is imported here: the runner imports `fmnist.tuning.folders` alone, without Keras.
"""
