"""The prompt's size in the embedded model's own tokens (issue 13 item 4: ~1,200 prompt tokens for k=8
similar experiments): counted with SmolLM2's tokenizer (the GGUF's vocabulary only, no weights run) on
the ChatML text its server builds. Realistic numbers: digits are one token each in this vocabulary, so
the 3-significant-digit rule is what keeps the tables small."""

from __future__ import annotations

import pytest

from metallmix_wandb.recommend.candidates import offer
from metallmix_wandb.recommend.prompts import choice_messages, recommendation_messages
from tests.recommend.test_candidates import sc, summary
from tests.support.llm import require_local_llm
from tests.support.llm_data import GOOD, META, neighbour, space

DIGEST = "\n".join([
    "test/acc percentile within each dataset; SHAP in those units; most influential first:",
    "learning_rate: best 0.001 (+0.309), worst 1e-05 (-0.392)",
    "base_model: best resnet50 (+0.116), worst mobilenet_v2 (-0.180)",
    "fine_tuning: best full (+0.034), worst feature_extraction (-0.051)",
    "dropout: best 0.3 (+0.016), worst 0.5 (-0.025)",
    "batch_size: best 64 (+0.008), worst 32 (-0.005)",
])


@pytest.fixture(scope="module")
def count():
    require_local_llm()
    import llama_cpp

    from metallmix_wandb.llm.server import find_model_path

    vocab = llama_cpp.Llama(str(find_model_path()), vocab_only=True, verbose=False)

    def tokens(messages: list[dict[str, str]]) -> int:
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return len(vocab.tokenize((text + "<|im_start|>assistant\n").encode(), add_bos=False, special=True))

    return tokens


def _neighbours() -> list:
    return [neighbour(f"run {i}", f"synth_{i:03d}", acc=0.6083 - i * 0.0171, distance=0.7312 + i * 0.0123,
                      config={**GOOD, "learning_rate": [1e-3, 1e-2, 1e-4, 1e-5][i % 4]}) for i in range(8)]


def test_eight_experiments_fit_in_about_1200_tokens(count) -> None:
    messages = recommendation_messages(space(), META, _neighbours(), DIGEST)
    assert count(messages) <= 1200  # 962 here (1,137 before the shorter instructions); ~4,000 before the tables (one JSON object per run)


def test_the_choice_prompt_adds_a_compact_candidate_table(count) -> None:
    models, tunings = ["resnet18", "mobilenet_v2", "efficientnet_b0"], ["feature_extraction", "full"]
    ranked = [sc(0.911 - i * 0.0071, 0.656 - i * 0.003, 1.0, **{**GOOD, "base_model": models[i % 3],
                                                                  "fine_tuning": tunings[i // 3]}) for i in range(6)]
    offered = offer(ranked, summary(), list(space().tunable), 6)
    messages = choice_messages(space(), META, offered, _neighbours(), DIGEST)
    assert len(offered) == 6
    assert count(messages) <= 1200  # 1,191 here (1,543 before the shorter instructions and shared columns)
