"""Polls: a question and its choices, as in the original Pollstr."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Question(models.Model):
    """A poll's question."""

    question_text = models.CharField(_("question"), max_length=200)
    pub_date = models.DateTimeField(_("date published"))

    class Meta:
        ordering = ["-pub_date"]

    def __str__(self) -> str:
        return self.question_text

    def was_published_recently(self) -> bool:
        """Tell whether the question was published within the last day (and not in the future)."""
        now = timezone.now()
        return now - datetime.timedelta(days=1) <= self.pub_date <= now


class Choice(models.Model):
    """One answer to a question, with its vote count."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    choice_text = models.CharField(_("choice"), max_length=200)
    votes = models.IntegerField(_("votes"), default=0)

    def __str__(self) -> str:
        return self.choice_text
