"""What each step type consumes and produces: the one table of step types.

It lives in `config` (a leaf package) so that the constants and the validators can use it
without importing the pipeline package; `pipeline.step_types` reads it from here.
"""

from __future__ import annotations

ANY = "any"

# step type value -> (input type, output type). "passthrough" keeps the input type.
PASSTHROUGH = "passthrough"
GROUP = "group"

STEP_IO: dict[str, tuple[str, str]] = {
    "text_to_image": ("text", "image"),
    "image_understanding": ("image", "text"),
    "prompt_generation": ("image", PASSTHROUGH),
    "image_to_image": ("image", "image"),
    "image_to_video": ("image", "video"),
    "text_to_speech": ("text", "audio"),
    "add_audio": ("video", "video"),
    "upscale_video": ("video", "video"),
    "generate_subtitles": ("video", "video"),
    "parallel_group": (ANY, GROUP),
    "replicate_multitalk": (ANY, "video"),
}
