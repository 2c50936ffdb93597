"""The sections of docs/architectures.md: each a title, what it is, and the specs that show it."""

from __future__ import annotations

# The architectures of the seed documents, in the order docs/architectures.md shows them:
# (section title, what the seeds say about it, the specs that show it).
SEED_ARCHITECTURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Perceptron",
        "The earliest and simplest network (seed 003): a weighted sum of the inputs and a binary "
        "threshold (step) activation, for linearly separable two-class problems.",
        ("perceptron",),
    ),
    (
        "Multi-layer perceptron (MLP)",
        "Fully connected layers, every neuron of one layer connected to every neuron of the next "
        "(seed 001's `SimpleMLP`, whose torchinfo table archspec reproduces), for tabular "
        "regression and classification.",
        ("mlp",),
    ),
    (
        "Feedforward network (FNN)",
        "Information flows one way, input to hidden to output, with no cycles (seed 003's Keras "
        "8-12-8-1 binary classifier).",
        ("fnn",),
    ),
    (
        "Convolutional networks (CNN)",
        "Convolutions slide small learned filters over an image and pooling reduces its size, so "
        "features build up from edges to objects (seed 003's Keras CNN; LeNet-5 and VGG-16 as "
        "classic classifiers; a U-Net for segmentation, with skip connections by `concat`). The Keras "
        "CNN is shown twice: in PyTorch's NCHW layout, and channels-last as Keras writes it, with "
        "Keras' flatten order.",
        ("cnn", "keras_cnn", "lenet5", "vgg16", "unet"),
    ),
    (
        "Recurrent networks: RNN, LSTM, GRU",
        "Recurrent layers carry a hidden state along a sequence (seed 003's SimpleRNN and LSTM "
        "classifiers, and a GRU stack forecasting a time series). An LSTM's gates and memory cell "
        "keep long-range context; a GRU does the same with three gates.",
        ("simple_rnn", "lstm_classifier", "gru_forecaster"),
    ),
    (
        "Embeddings for text",
        "Integer token ids index a learned table of vectors (seed 001's \"embeddings and token "
        'representations"), here read by a bidirectional LSTM to classify a text.',
        ("text_classifier",),
    ),
    (
        "Residual networks (ResNet)",
        "Skip connections add a block's input to its output, so very deep networks train (seed "
        "003's Keras ResNet50; ResNet-18 and ResNet-50 as torchvision builds them).",
        ("resnet18", "resnet50"),
    ),
    (
        "Transformers",
        "Attention lets every position look at every other (seed 003's \"attention mechanisms, "
        'popularized by the Transformer"): a BERT-base encoder, GPT-2 small with its LM head tied '
        "to the token embedding, and GPT-3 175B, checked statically without allocating a weight; "
        "GPT-2, BERT-base (`bert_base`) and Whisper tiny (an encoder-decoder for speech) are written "
        "in Hugging Face's exact parameter layout, so their published checkpoints load, as are "
        "CLIP ViT-B/32 (an image and a text tower compared by cosine similarity) and T5-small "
        "(relative position buckets, an encoder-decoder with a tied, shared embedding).",
        ("transformer_encoder", "gpt2", "gpt3", "bert_base", "whisper_tiny", "clip_vit_b_32", "t5_small"),
    ),
    (
        "Generative adversarial networks (GAN)",
        "A generator draws data from noise and a discriminator judges it (seed 003's Keras GAN). "
        "Several models live in one spec; the combined model calls both and freezes the "
        "discriminator (`trainable: false`), sharing its modules. DCGAN does the same with "
        "convolutions.",
        ("gan", "dcgan"),
    ),
    (
        "Echo state network (ESN)",
        "A large fixed random recurrent reservoir maps the input into a rich state; only the "
        "linear readout is trained (seed 003's conceptual `ESN`).",
        ("esn",),
    ),
    (
        "Dropout and regularization",
        "Dropout zeroes random activations in training; L1/L2 penalties on weights (`regularizer`) "
        "keep them small; `init` picks how weights start.",
        ("regularized_mlp",),
    ),
    (
        "Sequence to sequence",
        "An encoder reads the source sequence and its final state starts a decoder that reads the "
        "target (Sutskever, Vinyals and Le, 2014): the encoder's `h` and `c` outputs feed the "
        "decoder's initial state.",
        ("seq2seq_lstm",),
    ),
    (
        "Current vision networks",
        "Networks built for phones and for accuracy per FLOP: MobileNetV2's inverted residuals with "
        "depthwise convolutions and ReLU6, EfficientNet-B0's squeeze-and-excitation and SiLU, "
        "ConvNeXt-T's 7x7 depthwise blocks with layer scale, and the Vision Transformer ViT-B/16 "
        "(patches, a class token, a learned position embedding), MobileNetV3-Large's hard-swish "
        "and hard-sigmoid gates, and Swin-T's attention in shifted windows with patch merging, all "
        "with torchvision's exact parameter names.",
        ("mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "vit_b_16", "swin_t"),
    ),
    (
        "Large language models",
        "A Llama-style decoder: RMSNorm, rotary position embedding, grouped-query attention and a "
        "SwiGLU feed-forward, with Hugging Face's parameter names: a small configuration tested end "
        "to end, and Llama 3 8B and Mistral 7B (sliding-window attention) at their published sizes, "
        "checked statically.",
        ("llama", "llama3_8b", "mistral_7b"),
    ),
    (
        "Graph networks (GNN)",
        'A graph convolutional network (seed 003\'s "GNNs as the future"; Kipf and Welling, '
        "2017): each layer mixes every node's features with its neighbours' through the normalized "
        "adjacency, a `matmul` with an input; a graph attention network (GAT, Velickovic et al., "
        "2018) weighs the neighbours by attention, masked to the edges, in PyTorch Geometric's layout.",
        ("gcn", "gat"),
    ),
)

# The zoo: published models as specs whose weights load; each with the reference its count, keys
# and outputs were checked against, and the tests that check it.
_TV = "torchvision layout: {ref} and torchvision 0.29.1's key/shape digest"
_HF = "transformers `{cls}` built from the published config"
ZOO: tuple[tuple[str, str, str, str], ...] = (
    ("resnet18", "ResNet-18", _TV.format(ref="tests/references/resnet.py"), "test_zoo.py"),
    ("resnet50", "ResNet-50", _TV.format(ref="tests/references/resnet.py"), "test_zoo.py"),
    ("mobilenet_v2", "MobileNetV2", _TV.format(ref="tests/references/mobilenet.py"), "test_lang_vision.py"),
    (
        "mobilenet_v3_large",
        "MobileNetV3-Large",
        _TV.format(ref="tests/references/mobilenet.py"),
        "test_zoo_more.py",
    ),
    (
        "efficientnet_b0",
        "EfficientNet-B0",
        _TV.format(ref="tests/references/efficientnet.py"),
        "test_lang_vision.py",
    ),
    ("convnext_tiny", "ConvNeXt-T", _TV.format(ref="tests/references/convnext.py"), "test_lang_vision.py"),
    ("vit_b_16", "ViT-B/16", _TV.format(ref="tests/references/vit.py"), "test_lang_vision.py"),
    ("swin_t", "Swin-T", _TV.format(ref="tests/references/swin.py"), "test_zoo_swin.py"),
    ("gpt2", "GPT-2 small", _HF.format(cls="GPT2LMHeadModel"), "test_zoo.py, test_references_hf.py"),
    ("bert_base", "BERT-base", _HF.format(cls="BertModel"), "test_zoo.py, test_references_hf.py"),
    ("llama", "a small Llama", _HF.format(cls="LlamaForCausalLM"), "test_lang_llm.py"),
    ("llama3_8b", "Llama 3 8B", _HF.format(cls="LlamaForCausalLM"), "test_zoo.py"),
    ("mistral_7b", "Mistral 7B v0.1", _HF.format(cls="MistralForCausalLM"), "test_zoo.py"),
    ("t5_small", "T5-small", _HF.format(cls="T5ForConditionalGeneration"), "test_zoo_hf.py"),
    (
        "whisper_tiny",
        "Whisper tiny",
        _HF.format(cls="WhisperForConditionalGeneration"),
        "test_zoo.py, test_references_hf.py",
    ),
    ("clip_vit_b_32", "CLIP ViT-B/32", _HF.format(cls="CLIPModel"), "test_zoo_hf.py"),
    (
        "gcn",
        "GCN (Kipf and Welling)",
        "PyTorch Geometric `GCNConv` math and keys: tests/references/graph.py",
        "test_lang_ops.py",
    ),
    (
        "gat",
        "GAT (Velickovic et al.)",
        "PyTorch Geometric `GATConv` math and keys: tests/references/graph.py",
        "test_zoo_more.py",
    ),
)
