"""The polls pages: a public index, and detail, vote and results (protected by verification settings)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import generic
from django.views.decorators.http import require_POST

from polls.models import Choice, Question

LATEST_POLLS = 5


def published_questions() -> QuerySet[Question]:
    """Questions whose publication date has come."""
    return Question.objects.filter(pub_date__lte=timezone.now())


class IndexView(generic.ListView):
    """The latest polls, each with its choices; public."""

    template_name = "polls/index.html"
    context_object_name = "latest_question_list"

    def get_queryset(self) -> QuerySet[Question]:
        choices = Prefetch("choices", queryset=Choice.objects.order_by("pk"))
        return published_questions().prefetch_related(choices)[:LATEST_POLLS]


class DetailView(LoginRequiredMixin, generic.DetailView):
    """One poll with its vote form."""

    model = Question
    template_name = "polls/detail.html"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions()


class ResultsView(LoginRequiredMixin, generic.DetailView):
    """The votes for one poll."""

    model = Question
    template_name = "polls/results.html"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions()


@login_required
@require_POST
def vote(request: HttpRequest, question_id: int) -> HttpResponse:
    """Count one vote for the posted `choice`, or show the form again with an error."""
    question = get_object_or_404(published_questions(), pk=question_id)
    try:
        choice_id = int(request.POST.get("choice", ""))
        selected = question.choices.get(pk=choice_id)
    except (ValueError, Choice.DoesNotExist):
        context: dict[str, Any] = {"question": question, "error_message": _("You didn't select a choice.")}
        return render(request, "polls/detail.html", context, status=400)
    # F() makes the increment happen in the database, so concurrent votes are all counted.
    Choice.objects.filter(pk=selected.pk).update(votes=F("votes") + 1)
    return HttpResponseRedirect(reverse("polls:results", args=(question.pk,)))


class SignUpView(generic.CreateView):
    """Register a new account and log it in."""

    form_class = UserCreationForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy("polls:index")

    def form_valid(self, form: UserCreationForm) -> HttpResponse:
        response = super().form_valid(form)
        login(self.request, self.object, backend="django.contrib.auth.backends.ModelBackend")
        return response
