"""The polls pages, in the `polls` namespace."""

from __future__ import annotations

from django.urls import path

from polls import views

app_name = "polls"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("<int:pk>/", views.DetailView.as_view(), name="detail"),
    path("<int:pk>/results/", views.ResultsView.as_view(), name="results"),
    path("<int:question_id>/vote/", views.vote, name="vote"),
    path("signup/", views.SignUpView.as_view(), name="signup"),
]
