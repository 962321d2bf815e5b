"""The first stage of the pipeline: reading users' data files into examples.

``classification`` (labelled texts: CSV, TSV, JSONL), ``ner`` (CoNLL, token<TAB>tag, JSONL spans,
normalised to text + character spans) and ``corpus`` (unlabelled text for masked-LM). Every
error names the file, line and field.
"""
