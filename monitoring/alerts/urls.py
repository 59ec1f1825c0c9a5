from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("", views.alert_list, name="alert_list"),
    path("history/", views.alert_history, name="alert_history"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
    path("<int:pk>/silence/", views.alert_silence, name="alert_silence"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/add/", views.rule_add, name="rule_add"),
    path("rules/<int:pk>/", views.rule, name="rule"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule_delete"),
]
