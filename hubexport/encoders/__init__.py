"""Keras 3 encoders for BERT, RoBERTa, XLM-RoBERTa, ALBERT and ELECTRA."""

from hubexport.encoders.albert import AlbertBackbone
from hubexport.encoders.backbone import EncoderBackbone
from hubexport.encoders.bert import BertBackbone
from hubexport.encoders.config import EncoderConfig
from hubexport.encoders.electra import ElectraBackbone
from hubexport.encoders.roberta import RobertaBackbone, XLMRobertaBackbone

__all__ = [
    "AlbertBackbone",
    "BertBackbone",
    "ElectraBackbone",
    "EncoderBackbone",
    "EncoderConfig",
    "RobertaBackbone",
    "XLMRobertaBackbone",
]
