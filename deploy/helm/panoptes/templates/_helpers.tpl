{{/*
Helpers shared by every template. Written in the subset of Helm that the repository's own
renderer (crates/test-util/src/helm.rs) also runs: each define starts and ends on its own line.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "panoptes.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name: the release name, plus the chart name unless it contains it. */}}
{{- define "panoptes.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The agent's object names. */}}
{{- define "panoptes.agentName" -}}
{{- printf "%s-agent" (include "panoptes.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The service account of the server. */}}
{{- define "panoptes.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "panoptes.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "panoptes.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "panoptes.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The server pods' selector. */}}
{{- define "panoptes.serverSelectorLabels" -}}
app.kubernetes.io/name: {{ include "panoptes.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/* The agent pods' selector. */}}
{{- define "panoptes.agentSelectorLabels" -}}
app.kubernetes.io/name: {{ include "panoptes.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end }}

{{/* The container image: repository and tag, the tag defaulting to the chart's appVersion. */}}
{{- define "panoptes.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
