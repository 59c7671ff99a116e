{{/* The base of every name: "reaper-flow" for release "reaper-flow" (as infra/deploy names things). */}}
{{- define "reaper-flow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object (a component's objects add name and component: componentLabels). */}}
{{- define "reaper-flow.baseLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: reaper-flow
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "reaper-flow.labels" -}}
{{ include "reaper-flow.baseLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component: include "reaper-flow.selector" (list . "watcher") */}}
{{- define "reaper-flow.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ printf "%s-%s" (include "reaper-flow.fullname" $root) (index . 1) }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/* Labels of one component's objects: include "reaper-flow.componentLabels" (list . "watcher") */}}
{{- define "reaper-flow.componentLabels" -}}
{{ include "reaper-flow.baseLabels" (index . 0) }}
{{ include "reaper-flow.selector" . }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* An image reference from {repository, tag}; the tag defaults to the chart's appVersion. */}}
{{- define "reaper-flow.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{/* The Secret holding the dashboard's password (and optional token). */}}
{{- define "reaper-flow.dashboardSecret" -}}
{{- default (printf "%s-dashboard" (include "reaper-flow.fullname" .)) .Values.dashboard.existingSecret -}}
{{- end -}}

{{/* The Lease the watchers elect a leader with (its Role names it). */}}
{{- define "reaper-flow.leaseName" -}}
{{- printf "%s-watcher" (include "reaper-flow.fullname" .) -}}
{{- end -}}

{{/* The configuration file (reaper-flow.yaml): values.config plus what the chart derives. */}}
{{- define "reaper-flow.config" -}}
{{- $redis := dict "tls" .Values.redis.tls "prefix" .Values.redis.prefix -}}
{{- if .Values.redis.bundled.enabled -}}
{{- $_ := set $redis "mode" "standalone" -}}
{{- $_ := set $redis "url" (printf "redis://%s-redis.%s.svc:6379" (include "reaper-flow.fullname" .) .Release.Namespace) -}}
{{- else if eq .Values.redis.mode "sentinel" -}}
{{- if not .Values.redis.sentinel.sentinels -}}
{{- fail "redis.mode sentinel needs redis.sentinel.sentinels (host:port of each sentinel)" -}}
{{- end -}}
{{- $_ := set $redis "mode" "sentinel" -}}
{{- $_ := set $redis "sentinel" (dict "sentinels" .Values.redis.sentinel.sentinels "masterName" .Values.redis.sentinel.masterName "tls" .Values.redis.sentinel.tls) -}}
{{- else if eq .Values.redis.mode "cluster" -}}
{{- if not .Values.redis.cluster.nodes -}}
{{- fail "redis.mode cluster needs redis.cluster.nodes (host:port of some seed nodes)" -}}
{{- end -}}
{{- $_ := set $redis "mode" "cluster" -}}
{{- $_ := set $redis "cluster" (dict "nodes" .Values.redis.cluster.nodes) -}}
{{- else if eq .Values.redis.mode "standalone" -}}
{{- if not (or .Values.redis.url .Values.redis.existingSecret) -}}
{{- fail "redis.bundled.enabled is false: set redis.url (or redis.existingSecret with key url), or redis.mode sentinel or cluster" -}}
{{- end -}}
{{- $_ := set $redis "mode" "standalone" -}}
{{- if .Values.redis.url -}}{{- $_ := set $redis "url" .Values.redis.url -}}{{- end -}}
{{- else -}}
{{- fail (printf "redis.mode must be standalone, sentinel or cluster, got %q" .Values.redis.mode) -}}
{{- end -}}
{{- $derived := dict
  "redis" $redis
  "watcher" (dict "leaseNamespace" .Release.Namespace "leaseName" (include "reaper-flow.leaseName" .))
  "dashboard" (dict
    "enabled" (and .Values.dashboard.enabled (not .Values.dashboard.standalone.enabled))
    "port" (int .Values.dashboard.port)
    "host" "0.0.0.0"
    "username" .Values.dashboard.username
    "readOnly" .Values.dashboard.readOnly)
  "metrics" (dict "port" (int .Values.metricsPort) "host" "0.0.0.0")
  "nodeAgent" (dict "stateDir" .Values.nodeAgent.stateDir)
-}}
{{- toYaml (mustMergeOverwrite (deepCopy .Values.config) $derived) -}}
{{- end -}}

{{/* Environment of every component: the config file, Redis credentials from redis.existingSecret. */}}
{{- define "reaper-flow.commonEnv" -}}
- name: REAPER_FLOW_CONFIG
  value: /etc/reaper-flow/reaper-flow.yaml
{{- $secret := .Values.redis.existingSecret }}
{{- if $secret }}
{{- range $env, $key := dict "REDIS_URL" "url" "REDIS_PASSWORD" "password" "REDIS_SENTINEL_PASSWORD" "sentinelPassword" }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: {{ $key }}, optional: true }
{{- end }}
{{- end }}
{{- end -}}

{{/* Preferred anti-affinity over nodes for a component's replicas, unless affinity is given. */}}
{{- define "reaper-flow.affinity" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $affinity := index . 2 -}}
{{- if $affinity -}}
{{- toYaml $affinity -}}
{{- else -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "reaper-flow.selector" (list $root $component) | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* The dashboard's credentials from its Secret (the token key is optional). */}}
{{- define "reaper-flow.dashboardEnv" -}}
- name: DASHBOARD_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "reaper-flow.dashboardSecret" . }}
      key: {{ ternary .Values.dashboard.existingSecretKey "password" (not (empty .Values.dashboard.existingSecret)) }}
- name: DASHBOARD_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "reaper-flow.dashboardSecret" . }}
      key: token
      optional: true
{{- end -}}
