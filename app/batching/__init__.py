"""The parts of batch runs (`app.batches`): reading files, mapping rows to inputs, the runner, results as CSV."""
