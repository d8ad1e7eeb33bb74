"""Inside the model: the feature maps of a layer picked by the student, and which part of the
drawing the model's answer depends on (occlusion)."""

from __future__ import annotations

import streamlit as st

from mnist_small import plots
from mnist_small.cards import feature_map_layers
from mnist_small.inference import feature_maps, occlusion

from ..context import Context, guard


@st.fragment  # picking a layer reruns this view only, not the page
def show(context: Context) -> None:
    with guard("inside the model"):
        if not context.drawing.has_digit:
            st.info("Draw a digit in the Draw tab to look inside the model.")
            return
        model = context.models[context.chosen].model
        layers = feature_map_layers(model)
        picked = st.selectbox(
            "Layer",
            range(len(layers)),
            format_func=lambda i: f"{layers[i].label}  ({'x'.join(map(str, layers[i].output_shape))})",
            key="layer",
        )
        model_input = context.drawing.tensor()
        maps = feature_maps(model, model_input, layers[picked].module)
        st.image(plots.feature_map_images(maps), caption=[f"ch {i}" for i in range(len(maps))], width=64)

        answer = int(context.probabilities[context.chosen].argmax())
        hiding = occlusion(model, model_input, answer)
        patch_row, patch_col, answer_without, confidence_without = hiding.most_telling()
        if hiding.drop.max() >= 0.01:
            hidden_image = hiding.image_without(patch_row, patch_col)
            hidden_title = f"brightest spot hidden: {answer_without} ({100 * confidence_without:.0f}%)"
        else:
            hidden_image, hidden_title = context.drawing.image, f"no patch matters: still {answer}"
        panels = [
            ("what the model sees", context.drawing.image, "gray", "input"),
            (f"hide a 5x5 patch: '{answer}' drops up to {100 * hiding.drop.max():.0f} pts", hiding.drop, "hot", "occlusion"),
            (hidden_title, hidden_image, "gray", "hidden"),
        ]
        for column, (title, pixels, colorscale, key) in zip(st.columns(len(panels), vertical_alignment="bottom"), panels, strict=True):
            column.markdown(f"**{title}**")  # above the plot, not in it: wraps in a narrow column
            column.plotly_chart(plots.image(pixels, colorscale=colorscale), width="stretch", key=key)
        st.caption(
            f"Middle: each pixel's colour is how much the probability for '{answer}' drops when a 5x5 patch "
            "centred there is blanked out (black: no change, white: all the way to zero). Right: the drawing "
            f"with the patch that matters most hidden, and what the model says then ({'still ' if answer_without == answer else ''}"
            f"{answer_without}). Ask the class to guess first which part of their digit the model needs."
        )
