"""Admin for polls: questions with their choices inline."""

from __future__ import annotations

from django.contrib import admin

from polls.models import Choice, Question


class ChoiceInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Choice
    extra = 3


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["question_text", "pub_date"]
    search_fields = ["question_text"]
    inlines = [ChoiceInline]
