"""The works the report cites, and the References section built from the citations found in the rendered text.

A template cites a work in prose ("Xiong et al. (2020)", "Ho & Salimans 2022"); :func:`cited_in` finds which
entries a rendered text cites (first author's surname followed, within a few words, by the year), and
:func:`references_markdown` lists them. :func:`unresolved_citations` returns the author-year citations of a text
that no entry matches, so a test can require a full entry for every work cited.

Numbers that a work reports and the report compares with (``reported``) live here too, next to the work they
come from, rather than typed into a template.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reference:
    key: str
    surname: str  #: first author's surname, as the text cites it
    year: int
    authors: str
    title: str
    venue: str
    reported: dict[str, Any] = field(default_factory=dict)  #: numbers the report quotes from this work

    @property
    def pattern(self) -> re.Pattern:
        # "Burda, Grosse & Salakhutdinov (2016", "Xiong et al. (2020", "Ho & Salimans 2022", "Doersch (2016"
        return re.compile(rf"\b{re.escape(self.surname)}\b[^()\n]{{0,60}}?\(?{self.year}\b")

    def entry(self) -> str:
        return f"{self.authors}. {self.title}. {self.venue}, {self.year}."


REFERENCES: tuple[Reference, ...] = (
    Reference("doersch2016", "Doersch", 2016, "Carl Doersch", "Tutorial on variational autoencoders",
              "arXiv:1606.05908"),
    Reference("kingma2014", "Kingma", 2014, "Diederik P. Kingma and Max Welling", "Auto-encoding variational Bayes",
              "International Conference on Learning Representations (ICLR)"),
    Reference("burda2016", "Burda", 2016, "Yuri Burda, Roger Grosse and Ruslan Salakhutdinov",
              "Importance weighted autoencoders", "International Conference on Learning Representations (ICLR)",
              reported={"nll": 86.76, "is_samples": 5000, "epochs": 3280, "latent_units": 50, "hidden_units": 200}),
    Reference("ho2020", "Ho", 2020,
              "Jonathan Ho, Ajay Jain and Pieter Abbeel", "Denoising diffusion probabilistic models",
              "Advances in Neural Information Processing Systems 33, pp. 6840-6851"),
    Reference("kingma2021", "Kingma", 2021, "Diederik P. Kingma, Tim Salimans, Ben Poole and Jonathan Ho",
              "Variational diffusion models", "Advances in Neural Information Processing Systems 34, pp. 21696-21707"),
    Reference("luo2022", "Luo", 2022, "Calvin Luo", "Understanding diffusion models: a unified perspective",
              "arXiv:2208.11970"),
    Reference("song2021", "Song", 2021,
              "Jiaming Song, Chenlin Meng and Stefano Ermon", "Denoising diffusion implicit models",
              "International Conference on Learning Representations (ICLR)"),
    Reference("karras2022", "Karras", 2022, "Tero Karras, Miika Aittala, Timo Aila and Samuli Laine",
              "Elucidating the design space of diffusion-based generative models",
              "Advances in Neural Information Processing Systems 35"),
    Reference("lu2022", "Lu", 2022, "Cheng Lu, Yuhao Zhou, Fan Bao, Jianfei Chen, Chongxuan Li and Jun Zhu",
              "DPM-Solver++: fast solver for guided sampling of diffusion probabilistic models", "arXiv:2211.01095"),
    Reference("zhao2023", "Zhao", 2023, "Wenliang Zhao, Lujia Bai, Yongming Rao, Jie Zhou and Jiwen Lu",
              "UniPC: a unified predictor-corrector framework for fast sampling of diffusion models",
              "Advances in Neural Information Processing Systems 36"),
    Reference("heusel2017", "Heusel", 2017,
              "Martin Heusel, Hubert Ramsauer, Thomas Unterthiner, Bernhard Nessler and Sepp Hochreiter",
              "GANs trained by a two time-scale update rule converge to a local Nash equilibrium",
              "Advances in Neural Information Processing Systems 30"),
    Reference("binkowski2018",
    "Bińkowski", 2018, "Mikołaj Bińkowski, Danica J. Sutherland, Michael Arbel and Arthur Gretton",
              "Demystifying MMD GANs", "International Conference on Learning Representations (ICLR)"),
    Reference("ho2022", "Ho", 2022, "Jonathan Ho and Tim Salimans", "Classifier-free diffusion guidance",
              "NeurIPS Workshop on Deep Generative Models and Downstream Applications; arXiv:2207.12598"),
    Reference("rombach2022",
    "Rombach", 2022, "Robin Rombach, Andreas Blattmann, Dominik Lorenz, Patrick Esser and Björn Ommer",
              "High-resolution image synthesis with latent diffusion models",
              "IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)"),
    Reference("hang2023", "Hang", 2023,
              "Tiankai Hang, Shuyang Gu, Chen Li, Jianmin Bao, Dong Chen, Han Hu, Xin Geng and Baining Guo",
              "Efficient diffusion training via Min-SNR weighting strategy",
              "IEEE/CVF International Conference on Computer Vision (ICCV)"),
    Reference("vaswani2017", "Vaswani", 2017,
              "Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan N. Gomez, Łukasz Kaiser "
              "and Illia Polosukhin", "Attention is all you need",
              "Advances in Neural Information Processing Systems 30"),
    Reference("xiong2020", "Xiong", 2020,
              "Ruibin Xiong, Yunchang Yang, Di He, Kai Zheng, Shuxin Zheng, Chen Xing, Huishuai Zhang, Yanyan Lan, "
              "Liwei Wang and Tie-Yan Liu", "On layer normalization in the Transformer architecture",
              "International Conference on Machine Learning (ICML)"),
    Reference("liu2020", "Liu", 2020, "Liyuan Liu, Xiaodong Liu, Jianfeng Gao, Weizhu Chen and Jiawei Han",
              "Understanding the difficulty of training Transformers",
              "Conference on Empirical Methods in Natural Language Processing (EMNLP)"),
    Reference("wang2022", "Wang", 2022, "Hongyu Wang, Shuming Ma, Li Dong, Shaohan Huang, Dongdong Zhang and Furu Wei",
              "DeepNet: scaling Transformers to 1,000 layers", "arXiv:2203.00555"),
    Reference("merity2017", "Merity", 2017, "Stephen Merity, Caiming Xiong, James Bradbury and Richard Socher",
              "Pointer sentinel mixture models", "International Conference on Learning Representations (ICLR)"),
    Reference("johnson2017", "Johnson", 2017,
              "Melvin Johnson, Mike Schuster, Quoc V. Le, Maxim Krikun, Yonghui Wu, Zhifeng Chen, Nikhil Thorat, "
              "Fernanda Viégas, Martin Wattenberg, Greg Corrado, Macduff Hughes and Jeffrey Dean",
              "Google's multilingual neural machine translation system: enabling zero-shot translation",
              "Transactions of the Association for Computational Linguistics 5, pp. 339-351"),
    Reference("wu2021", "Wu", 2021, "Zhiyong Wu, Lingpeng Kong, Wei Bi, Xiang Li and Ben Kao",
              "Good for misconceived reasons: an empirical revisiting on the need for visual context in multimodal "
              "machine translation", "Annual Meeting of the Association for Computational Linguistics (ACL)"),
    Reference("koehn2004", "Koehn", 2004,
              "Philipp Koehn", "Statistical significance tests for machine translation evaluation",
              "Conference on Empirical Methods in Natural Language Processing (EMNLP)"),
    Reference("mcnemar1947", "McNemar", 1947, "Quinn McNemar",
              "Note on the sampling error of the difference between correlated proportions or percentages",
              "Psychometrika 12(2), pp. 153-157"),
    Reference("wilson1927", "Wilson", 1927, "Edwin B. Wilson",
              "Probable inference, the law of succession, and statistical inference",
              "Journal of the American Statistical Association 22(158), pp. 209-212"),
    Reference("newcombe1998", "Newcombe", 1998, "Robert G. Newcombe",
              "Improved confidence intervals for the difference between binomial proportions based on paired data",
              "Statistics in Medicine 17(22), pp. 2635-2650"),
)

BY_KEY = {r.key: r for r in REFERENCES}

#: An author-year citation: a capitalised surname, optionally "et al." or co-authors, then a year.
_CITATION = re.compile(
    r"\b([A-Z][\w\-ńé]+)(?:'s)?"
    r"(?:,? et al\.|(?:, [A-Z][\w\-]+)*,? (?:&|and) [A-Z][\w\-]+)?"
    r",? \(?((?:19|20)\d\d)\b")


def reported(key: str) -> dict[str, Any]:
    """Numbers the report quotes from work ``key``."""
    return BY_KEY[key].reported


def cited_in(text: str) -> list[Reference]:
    """The works ``text`` cites, in the order of their first citation."""
    first = {}
    for ref in REFERENCES:
        m = ref.pattern.search(text)
        if m:
            first[ref.key] = m.start()
    return sorted((BY_KEY[k] for k in first), key=lambda r: (first[r.key], r.key))


def unresolved_citations(text: str) -> list[str]:
    """Author-year citations of ``text`` that match no entry (each as it appears)."""
    out = []
    for m in _CITATION.finditer(text):
        surname, year = m.group(1), int(m.group(2))
        if not any(r.surname == surname and r.year == year for r in REFERENCES):
            out.append(m.group(0))
    return out


def references_markdown(text: str, heading: str = "# References") -> str:
    """The References section for the works ``text`` cites, sorted by first author and year."""
    refs = sorted(cited_in(text), key=lambda r: (r.surname, r.year, r.key))
    lines = [heading, ""]
    lines += [f"- {r.entry()}" for r in refs]
    return "\n".join(lines) + "\n"
