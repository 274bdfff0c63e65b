"""Batch runs: `BatchService` (in `batches`) is what the pages and the API call; `files` reads uploads,
`mapping` maps rows to the workflow's inputs, `runner` starts each batch's rows as runs, `results` writes CSV.
"""
