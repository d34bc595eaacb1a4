{{/* Names. */}}
{{- define "watertight.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "watertight.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "watertight.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "watertight.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: watertight
watertight.io/site: {{ .Values.site }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "router"). */}}
{{- define "watertight.selectorLabels" -}}
app.kubernetes.io/name: {{ include "watertight.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "watertight.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end -}}

{{- define "watertight.tokenSecretName" -}}
{{- default (printf "%s-admin-token" (include "watertight.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{/* Local etcd client URL first, then the other sites' members (JSON list). */}}
{{- define "watertight.etcdEndpoints" -}}
{{- $local := printf "http://%s-etcd.%s.svc:%d" (include "watertight.fullname" .) .Release.Namespace (int .Values.etcd.clientPort) -}}
{{- $list := list $local -}}
{{- range $site := keys .Values.peerSites | sortAlpha -}}
{{- $list = append $list (get $.Values.peerSites $site).etcdClientUrl -}}
{{- end -}}
{{- toJson $list -}}
{{- end -}}

{{/* Site names of the topology, in topology order (JSON list; fromJsonArray to use). */}}
{{- define "watertight.siteNames" -}}
{{- $names := list -}}
{{- range .Values.topology.sites -}}{{- $names = append $names .name -}}{{- end -}}
{{- toJson $names -}}
{{- end -}}

{{/*
Role of a unit's instance at deploy time in this site: (dict "unit" u "site" s).
Every site holds an instance of every unit (quorum commit: a standby in each site other
than the primary's), so this is "primary" in the unit's first primary site and "standby"
everywhere else.
*/}}
{{- define "watertight.roleAtDeploy" -}}
{{- if eq .unit.primary .site -}}primary{{- else -}}standby{{- end -}}
{{- end -}}

{{/* URL of a unit's instance in a peer site: (dict "peer" p "unit" name "index" i "root" $). */}}
{{- define "watertight.peerUnitUrl" -}}
{{- $nodePort := add .root.Values.units.service.nodePortBase .index -}}
{{- .peer.unitUrlTemplate | replace "{unit}" .unit | replace "{nodePort}" (toString $nodePort) -}}
{{- end -}}

{{/* JSON map unit -> site -> URL of every unit instance, for routers and controllers. */}}
{{- define "watertight.unitUrls" -}}
{{- $root := . -}}
{{- $fullname := include "watertight.fullname" . -}}
{{- $all := dict -}}
{{- range $i, $u := .Values.topology.units -}}
{{- $bySite := dict -}}
{{- range $s := include "watertight.siteNames" $root | fromJsonArray -}}
{{- if eq $s $root.Values.site -}}
{{- $_ := set $bySite $s (printf "http://%s-unit-%s.%s.svc:%d" $fullname $u.name $root.Release.Namespace (int $root.Values.units.port)) -}}
{{- else if hasKey $root.Values.peerSites $s -}}
{{- $_ := set $bySite $s (include "watertight.peerUnitUrl" (dict "peer" (get $root.Values.peerSites $s) "unit" $u.name "index" $i "root" $root)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $all $u.name $bySite -}}
{{- end -}}
{{- toJson $all -}}
{{- end -}}

{{- define "watertight.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "watertight.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Environment shared by every watertight process. */}}
{{- define "watertight.commonEnv" -}}
- name: WATERTIGHT_SITE
  value: {{ .Values.site | quote }}
- name: WATERTIGHT_HOST
  value: "0.0.0.0"
- name: WATERTIGHT_TOPOLOGY
  value: /etc/watertight/topology.yaml
- name: WATERTIGHT_TOKEN_FILE
  value: /var/run/secrets/watertight/token
- name: WATERTIGHT_ETCD_ENDPOINTS
  value: {{ include "watertight.etcdEndpoints" . | quote }}
{{- end -}}

{{/* Volumes shared by every watertight process: topology, token, /tmp. */}}
{{- define "watertight.commonVolumes" -}}
- name: topology
  configMap:
    name: {{ include "watertight.fullname" . }}-topology
- name: admin-token
  secret:
    secretName: {{ include "watertight.tokenSecretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.adminToken.key }}
        path: token
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "watertight.commonMounts" -}}
- name: topology
  mountPath: /etc/watertight
  readOnly: true
- name: admin-token
  mountPath: /var/run/secrets/watertight
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}
