"""The use cases, one service per feature, each taking only what it needs.

workflows (and steps, documents, references) · drafts (the editor's checks, previews, trials) · runs ·
approvals · agents · credentials · sessions · examples · schedules/ · webhooks · batches/ · subworkflows.
`container.Services` lists them as the pages and the API receive them; `app.root` builds them.
"""
