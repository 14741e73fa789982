"""A transformer for multilingual translation on Multi30k, sized for CPU training.

``mva_transformer_multi30k``: 3 encoder + 3 decoder layers, d=256, 4 heads, FFN 1024, dropout 0.3, and
ALL embeddings shared (assignment section 3: "share the embeddings between your encoder and decoder"):
with one dictionary for every language, the encoder input embedding, the decoder input embedding and
the decoder output projection are one matrix (``share_all_embeddings``). fairseq checks at build time
that the source and target dictionaries are equal, which ``scripts/prepare_multi30k.sh`` guarantees.

Like every fairseq architecture function it only fills the attributes the command line left unset, then
calls fairseq's ``base_architecture`` for the rest.
"""
from fairseq.models import register_model_architecture
from fairseq.models.transformer import base_architecture
from fairseq.utils import safe_getattr


@register_model_architecture("transformer", "mva_transformer_multi30k")
def mva_transformer_multi30k(args):
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 256)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 1024)
    args.encoder_layers = safe_getattr(args, "encoder_layers", 3)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 4)
    args.decoder_embed_dim = safe_getattr(args, "decoder_embed_dim", args.encoder_embed_dim)
    args.decoder_ffn_embed_dim = safe_getattr(args, "decoder_ffn_embed_dim", args.encoder_ffn_embed_dim)
    args.decoder_layers = safe_getattr(args, "decoder_layers", 3)
    args.decoder_attention_heads = safe_getattr(args, "decoder_attention_heads", 4)
    args.dropout = safe_getattr(args, "dropout", 0.3)
    args.share_all_embeddings = safe_getattr(args, "share_all_embeddings", True)
    args.share_decoder_input_output_embed = safe_getattr(args, "share_decoder_input_output_embed", True)
    base_architecture(args)


@register_model_architecture("transformer", "mva_transformer_multi30k_cpu")
def mva_transformer_multi30k_cpu(args):
    """The same model at d=128 (FFN 512, dropout 0.1): about twice the training speed of d=256 on a CPU core,
    so a CPU budget buys about twice the epochs; the light dropout suits that short, under-fitting regime."""
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 128)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 512)
    args.dropout = safe_getattr(args, "dropout", 0.1)
    mva_transformer_multi30k(args)
