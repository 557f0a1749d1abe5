"""Pipelines and their stages, for those who may change them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from custos.core.errors import Conflict, NotFound, ValidationFailed
from custos.crm.models import Deal, Stage
from custos.crm.selectors.deals import access_pipeline, access_stage, pipeline_list
from custos.crm.services import deals as services
from custos.web.forms import PipelineForm, StageForm, attach_errors
from custos.web.shortcuts import actor_of
from custos.web.views.listing import posted


def _outcomes() -> list[tuple[str, str]]:
    return [(str(value), capfirst(str(label))) for value, label in Stage.Outcome.choices]


def pipelines(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    actor.require("pipeline.change")
    form = PipelineForm(posted(request), outcomes=_outcomes())
    if request.method == "POST":
        actor.require("pipeline.add")
        if form.is_valid():
            try:
                pipeline = services.pipeline_create(actor=actor, name=form.cleaned_data["name"], stages=form.stages())
            except ValidationFailed as error:
                form.attach_stage_errors(error)
            else:
                messages.success(request, _("The pipeline “%(name)s” is created.") % {"name": pipeline.name})
                return redirect("web:pipeline-edit", pipeline.pk)
    if not pipeline_list(actor).exists():
        services.pipeline_default(actor)
    return render(request, "web/organization/pipelines.html", {"pipelines": pipeline_list(actor), "form": form})


def pipeline_edit(request: HttpRequest, pipeline_id: str) -> HttpResponse:
    """A pipeline's stages, each with its own small form."""
    actor = actor_of(request)
    actor.require("pipeline.change")
    pipeline = access_pipeline(actor, pipeline_id)
    stages = list(pipeline.stages.order_by("position"))
    rows = [
        (
            stage,
            StageForm(
                initial={
                    "name": stage.name,
                    "probability": stage.probability,
                    "outcome": stage.outcome,
                    "position": stage.position + 1,
                },
                outcomes=_outcomes(),
                auto_id=f"id_{stage.pk}_%s",
            ),
        )
        for stage in stages
    ]
    return render(request, "web/organization/pipeline_edit.html", {"pipeline": pipeline, "rows": rows})


def stage_edit(request: HttpRequest, pipeline_id: str, stage_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("pipeline.change")
    pipeline = access_pipeline(actor, pipeline_id)
    stage = access_stage(actor, stage_id)
    if stage.pipeline_id != pipeline.pk:
        raise NotFound()
    form = StageForm(
        posted(request),
        initial={
            "name": stage.name,
            "probability": stage.probability,
            "outcome": stage.outcome,
            "position": stage.position + 1,
        },
        outcomes=_outcomes(),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.stage_update(
                actor=actor,
                stage=stage,
                name=data["name"],
                probability=data["probability"],
                outcome=data["outcome"],
                position=data["position"] - 1,
            )
        except ValidationFailed as error:
            attach_errors(form, error)
        except Conflict as error:
            form.add_error("outcome", error.detail)
        else:
            messages.success(request, _("The stage “%(name)s” is saved.") % {"name": stage.name})
            return redirect("web:pipeline-edit", pipeline.pk)
    return render(
        request,
        "web/organization/stage_edit.html",
        {"pipeline": pipeline, "stage": stage, "form": form, "deals": Deal.objects.filter(stage=stage).count()},
    )
