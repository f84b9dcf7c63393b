"""The model card (`README.md`) written into every export, in the style of TF Hub's cards.

`write_model_card(export_dir, kind, metadata)` renders it from the export's metadata:

- `encoder_config` (an `EncoderConfig.to_dict()`; encoder and end_to_end cards) for the
  architecture and the real output shapes;
- `preprocessing` (`describe_preprocessor(module)`; preprocessor and end_to_end cards);
- optional: `checkpoint` (the source checkpoint), `weights`, `architecture`, `name`, `language`,
  `license`, `export_path` (the path the examples load, when the card is written into a staging
  directory that is moved into place later), `preprocessor_path` / `encoder_path` (a companion
  export the examples chain with), and `serving` (`model_name`, `base_dir`, `version`,
  `signatures`, `text_ops`: the TF Serving section of end_to_end cards), `sentence_transformers`
  (`SentenceTransformersChain.describe()`: the sentence-transformers chain an end_to_end `embedding` is),
  `classifier` (`ClassifierHeadSpec.describe()`: the head of a text_classifier card).

Every code block tagged `python` is a complete program (see `hubexport.model_cards.examples`).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from hubexport.model_cards.classifier_card import classifier_examples, classifier_output_details, classify_line
from hubexport.model_cards.examples import examples_for
from hubexport.model_cards.int8_card import int8_overview
from hubexport.version import __version__

CARD_FILE = "README.md"
KINDS = {
    "encoder": ("text-embedding", True, "Transformer text encoder in TF Hub's reusable encoder format."),
    "preprocessor": ("text-preprocessing", False, "Text preprocessing for a Transformer encoder, in TensorFlow ops."),
    "end_to_end": ("text-embedding", True, "Text embeddings from raw strings: tokenizer and encoder in one graph."),
    "text_classifier": (
        "text-classification",
        True,
        "Text classification from raw strings: tokenizer, encoder and classifier head in one graph.",
    ),
}
SERVED_KINDS = ("end_to_end", "text_classifier")
POOLERS = {
    "dense_tanh": "the first token's final hidden state through a trained dense layer with tanh",
    "first_token": "the first token's final hidden state (the source has no trained pooler)",
}
REFERENCES = {
    "bert": "[BERT: Pre-training of Deep Bidirectional Transformers](https://arxiv.org/abs/1810.04805)",
    "roberta": "[RoBERTa: A Robustly Optimized BERT Pretraining Approach](https://arxiv.org/abs/1907.11692)",
    "xlm_roberta": "[Unsupervised Cross-lingual Representation Learning at Scale](https://arxiv.org/abs/1911.02116)",
    "albert": "[ALBERT: A Lite BERT](https://arxiv.org/abs/1909.11942)",
    "electra": "[ELECTRA: Pre-training Text Encoders as Discriminators](https://arxiv.org/abs/2003.10555)",
}


def write_model_card(export_dir: str | pathlib.Path, kind: str, metadata: dict[str, Any]) -> pathlib.Path:
    """Writes `export_dir/README.md` for an export of `kind` (a key of `KINDS`)."""
    export_dir = pathlib.Path(export_dir)
    path = export_dir / CARD_FILE
    path.write_text(
        render_model_card(kind, metadata, str(metadata.get("export_path", export_dir.absolute()))), encoding="utf-8"
    )
    return path


def render_model_card(kind: str, metadata: dict[str, Any], export_path: str) -> str:
    """The card's Markdown; the examples load `export_path`."""
    if kind not in KINDS:
        raise ValueError(f"unknown model card kind {kind!r}; expected one of {', '.join(KINDS)}")
    needed = {
        "encoder": ["encoder_config"],
        "preprocessor": ["preprocessing"],
        "end_to_end": ["encoder_config", "preprocessing"],
        "text_classifier": ["encoder_config", "preprocessing", "classifier"],
    }[kind]
    missing = [key for key in needed if not metadata.get(key)]
    if missing:
        raise ValueError(f"a {kind} model card needs metadata {', '.join(missing)}")
    sections = [_header(kind, metadata, export_path), _overview(kind, metadata), _examples(kind, metadata, export_path)]
    if kind in SERVED_KINDS and metadata.get("serving"):
        sections.append(_serving(metadata["serving"]))
    sections.append(_outputs(kind, metadata))
    if metadata.get("preprocessing"):
        sections.append(_preprocessing(metadata["preprocessing"]))
    sections.append(_references(metadata))
    return "\n\n".join(sections) + "\n"


def _header(kind: str, metadata: dict[str, Any], export_path: str) -> str:
    task, fine_tunable, summary = KINDS[kind]
    fine_tunable = fine_tunable and metadata.get("fine_tunable", True)
    path = pathlib.Path(export_path)
    name = metadata.get("name") or (path.parent.name if path.name.isdigit() else path.name)
    lines = [f"# {name}", "", summary, ""]
    if kind != "preprocessor":
        lines.append("<!-- network-architecture: transformer -->")
    lines += [
        f"<!-- task: {task} -->",
        f"<!-- fine-tunable: {str(fine_tunable).lower()} -->",
        "<!-- format: saved_model_2 -->",
    ]
    lines += [f"<!-- {key}: {metadata[key]} -->" for key in ("language", "license") if metadata.get(key)]
    return "\n".join(lines)


def _overview(kind: str, metadata: dict[str, Any]) -> str:
    lines = ["## Overview", "", f"Exported by hubexport {__version__} as a TensorFlow 2 SavedModel.", ""]
    if metadata.get("checkpoint"):
        lines.append(f"* Source checkpoint: `{metadata['checkpoint']}`")
    if metadata.get("weights"):
        lines.append(f"* Weights: {metadata['weights']}")
    if metadata.get("architecture"):
        lines.append(f"* Architecture: {metadata['architecture']}")
    if metadata.get("int8"):
        lines.append(int8_overview(metadata["int8"]))
    encoder = metadata.get("encoder_config")
    if encoder and kind != "preprocessor":
        lines.append(
            f"* Encoder: {encoder['family']}, {encoder['num_layers']} layers, hidden size {encoder['hidden_dim']}, "
            f"{encoder['num_heads']} attention heads, intermediate size {encoder['intermediate_dim']}, "
            f"vocabulary {encoder['vocabulary_size']}, up to {encoder['max_sequence_length']} positions, "
            f"activation {encoder['hidden_activation']}, layer norm epsilon {encoder['layer_norm_epsilon']}"
        )
    if kind != "encoder":
        lines.append(
            "* Tokenization runs inside the TensorFlow graph: `import tensorflow_text` before loading "
            "(it registers the tf.text ops); no Python tokenizer is needed."
        )
    return "\n".join(lines)


def _examples(kind: str, metadata: dict[str, Any], export_path: str) -> str:
    blocks = ["## Example use"]
    examples = (
        classifier_examples(export_path, metadata)
        if kind == "text_classifier"
        else examples_for(kind, export_path, metadata)
    )
    for title, program in examples.items():
        blocks.append(f"### {title}\n\n```python\n{program.rstrip()}\n```")
    return "\n\n".join(blocks)


def _serving(serving: dict[str, Any]) -> str:
    """The TensorFlow Serving section, from the facts `serving.layout.card_facts` gathers."""
    commands = serving["commands"]
    signatures = "; ".join(
        f"`{name}` ({', '.join(f'`{key}`' for key in inputs)})" for name, inputs in serving["signatures"].items()
    )
    body = json.dumps(serving["example_body"], indent=2)
    return "\n".join(
        [
            "## TensorFlow Serving",
            "",
            f"This is version {serving['version']} of the model base directory `{serving['base_dir']}` (TF Serving's "
            f"layout); `{serving['models_config']}` and `{serving['commands_file']}` sit beside the versions. "
            f"Signatures: {signatures}; each returns {', '.join(f'`{name}`' for name in serving['outputs'])}. "
            "Warm-up requests for each are in `assets.extra/tf_serving_warmup_requests`.",
            "",
            "```bash",
            commands["tensorflow_model_server"],
            "# or",
            commands["docker"],
            "```",
            "",
            "The server must have these tf.text ops built in (else loading fails with 'Op type not registered'): "
            f"{', '.join(f'`{op}`' for op in serving['text_ops']) or 'none'}.",
            "",
            "REST `:predict` request body (columnar `inputs`):",
            "",
            "```json",
            body,
            "```",
            "",
            "```bash",
            *serving["rest_requests"].values(),
            "```",
        ]
    )


def _outputs(kind: str, metadata: dict[str, Any]) -> str:
    if kind == "text_classifier":
        return classifier_output_details(metadata)
    lines = ["## Output details", ""]
    if kind == "preprocessor":
        seq = metadata["preprocessing"]["default_seq_length"]
        lines.append(
            "Calling the model on a batch of strings returns a dict of int32 tensors of shape "
            f"`[batch size, {seq}]` (`bert_pack_inputs` takes any `seq_length`):"
        )
        lines += [f'* `"{name}"`' for name in ("input_word_ids", "input_mask", "input_type_ids")]
        return "\n".join(lines)
    encoder = metadata["encoder_config"]
    hidden, layers = encoder["hidden_dim"], encoder["num_layers"]
    seq = metadata["preprocessing"]["default_seq_length"] if kind == "end_to_end" else "sequence length"
    pooled = POOLERS.get(encoder.get("pooler"), encoder.get("pooler"))
    if kind == "end_to_end":
        lines += [
            "The outputs are a dict of float32 tensors (and the int32 mask):",
            "",
            _embedding_line(hidden, metadata.get("sentence_transformers")),
            f'* `"pooled_output"`: `[batch size, {hidden}]`, {pooled}.',
            f'* `"sequence_output"`: `[batch size, {seq}, {hidden}]`, one vector per token, zero at padding.',
            f'* `"input_mask"`: int32 `[batch size, {seq}]`, 1 for tokens, 0 for padding.',
            "",
            "Rows are sorted by length and encoded in buckets, each cut to its own longest row, so a short "
            "text costs what its tokens cost; outputs at real positions do not depend on the bucketing.",
            "",
            f"The bundled `encoder` has {layers} layers; call it for `encoder_outputs`.",
        ]
        return "\n".join(lines)
    lines += [
        "The outputs are a dict of float32 tensors:",
        "",
        f'* `"pooled_output"`: `[batch size, {hidden}]`, {pooled}. `"default"` is the same tensor.',
        f'* `"sequence_output"`: `[batch size, sequence length, {hidden}]`, one vector per token.',
        f'* `"encoder_outputs"`: a list of {layers} tensors `[batch size, sequence length, {hidden}]`, the output '
        "of each Transformer layer (the last equals `sequence_output`); `serving_default` spells them "
        f"`encoder_outputs_0` ... `encoder_outputs_{layers - 1}`.",
    ]
    if metadata.get("classifier"):
        lines.append(classify_line(metadata["classifier"]))
    return "\n".join(lines)


def _embedding_line(hidden: int, chain: dict[str, Any] | None) -> str:
    """The end_to_end card's `embedding` bullet: the masked mean, or the sentence-transformers chain exported."""
    if not chain:
        return (
            f'* `"embedding"`: `[batch size, {hidden}]`, the mean of `sequence_output` over `input_mask` '
            "(special tokens included): a sentence embedding."
        )
    dense = iter(chain["dense"])
    steps = [
        f"Pooling ({' + '.join(chain['pooling'])}, concatenated)"
        if len(chain["pooling"]) > 1
        else f"Pooling ({chain['pooling'][0]})"
    ]
    for module in chain["modules"][2:]:
        if module == "Dense":
            facts = next(dense)
            activation = facts["activation_function"].rsplit(".", 1)[-1]
            steps.append(
                f"Dense ({facts['in_features']} -> {facts['out_features']}, {activation}"
                f"{'' if facts['bias'] else ', no bias'})"
            )
        else:
            steps.append("Normalize (L2)")
    return (
        f'* `"embedding"`: `[batch size, {chain["embedding_dim"]}]`, what sentence-transformers\' '
        f"`SentenceTransformer(checkpoint).encode(texts)` returns: the source's modules Transformer -> "
        f"{' -> '.join(steps)} over `sequence_output` and `input_mask` (special tokens included; texts "
        f"truncated to {chain['max_seq_length']} tokens)."
    )


def _preprocessing(facts: dict[str, Any]) -> str:
    special = ", ".join(f"`{name}` {value}" for name, value in facts["special_tokens"].items())
    yes_no = {True: "yes", False: "no"}
    return "\n".join(
        [
            "## Preprocessing",
            "",
            f"* Tokenizer: {facts['tokenizer']}, vocabulary of {facts['vocab_size']} tokens.",
            f"* Lower-cases the text: {yes_no[facts['lowercases']]}; strips accents: {yes_no[facts['strips_accents']]}.",
            f"* Special token ids: {special}.",
            f"* Packing: {facts['packing']}.",
            f"* Default sequence length: {facts['default_seq_length']} (truncation: {facts['truncation']}).",
            _added_tokens_line(facts),
        ]
    )


def _added_tokens_line(facts: dict[str, Any]) -> str:
    """What the preprocessor does with added and special tokens written in the input text."""
    shown = [f"`{token['content']}` {token['id']}" for token in facts["added_tokens"][:12]]
    more = len(facts["added_tokens"]) - len(shown)
    listing = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    specials = "tokenized as plain text (split_special_tokens)" if facts["split_special_tokens"] else "recognised too"
    return (
        f"* Added tokens written in the input ({listing}) are split out before tokenizing and get their ids, as "
        f"Hugging Face's tokenizer does; special tokens among them are {specials}."
    )


def _references(metadata: dict[str, Any]) -> str:
    family = (metadata.get("encoder_config") or {}).get("family")
    lines = ["## References", ""]
    if family in REFERENCES:
        lines.append(f"* {REFERENCES[family]}")
    lines.append(
        "* [TF Hub's text encoder and preprocessor API](https://www.tensorflow.org/hub/common_saved_model_apis/text)"
    )
    return "\n".join(lines)
