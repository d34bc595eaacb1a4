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

{{- define "watertight.credentialsSecretName" -}}
{{- default (printf "%s-credentials" (include "watertight.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/*
"roles": per-role files from credentials.existingSecret (or a generated one); "shared":
the one-token development shortcut from adminToken; "" when neither is configured.
*/}}
{{- define "watertight.credentialsMode" -}}
{{- if .Values.credentials.existingSecret -}}roles
{{- else if .Values.adminToken.existingSecret -}}shared
{{- else if .Values.credentials.generate -}}roles
{{- else if .Values.adminToken.generate -}}shared
{{- end -}}
{{- end -}}

{{/* The credential variable of a unit or controller container. */}}
{{- define "watertight.credentialsEnv" -}}
{{- if eq (include "watertight.credentialsMode" .) "roles" -}}
- name: WATERTIGHT_CREDENTIALS_DIR
  value: /var/run/secrets/watertight/credentials
{{- else -}}
- name: WATERTIGHT_TOKEN_FILE
  value: /var/run/secrets/watertight/token
{{- end -}}
{{- end -}}

{{/* Local etcd client URL first, then the other sites' members (JSON list). */}}
{{- define "watertight.etcdEndpoints" -}}
{{- $list := list (include "watertight.localEtcdUrl" .) -}}
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

{{/* In-cluster URL of this release's etcd client Service. */}}
{{- define "watertight.localEtcdUrl" -}}
{{- printf "http://%s-etcd.%s.svc:%d" (include "watertight.fullname" .) .Release.Namespace (int .Values.etcd.clientPort) -}}
{{- end -}}

{{/* URL of this site's controller as the other sites and operators reach it. */}}
{{- define "watertight.controllerUrl" -}}
{{- .Values.controller.advertiseUrl | default (printf "http://%s-controller.%s.svc:%d" (include "watertight.fullname" .) .Release.Namespace (int .Values.controller.port)) -}}
{{- end -}}

{{/*
The address map of this site (JSON, mounted as /etc/watertight/addresses.json): every
unit instance, every etcd member and every controller as reached FROM this site. The
router reads its "units" (WATERTIGHT_ADDRESS_MAP); the controller and the observer read
all three (WATERTIGHT_ADDRESSES, failover/observer/addresses.py).
*/}}
{{- define "watertight.addresses" -}}
{{- $root := . -}}
{{- $fullname := include "watertight.fullname" . -}}
{{- $units := dict -}}
{{- range $i, $u := .Values.topology.units -}}
{{- $bySite := dict -}}
{{- range $s := include "watertight.siteNames" $root | fromJsonArray -}}
{{- if eq $s $root.Values.site -}}
{{- $_ := set $bySite $s (printf "http://%s-unit-%s.%s.svc:%d" $fullname $u.name $root.Release.Namespace (int $root.Values.units.port)) -}}
{{- else if hasKey $root.Values.peerSites $s -}}
{{- $_ := set $bySite $s (include "watertight.peerUnitUrl" (dict "peer" (get $root.Values.peerSites $s) "unit" $u.name "index" $i "root" $root)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $units $u.name $bySite -}}
{{- end -}}
{{- $etcd := dict .Values.site (include "watertight.localEtcdUrl" .) -}}
{{- $controllers := dict .Values.site (include "watertight.controllerUrl" .) -}}
{{- range $site, $peer := .Values.peerSites -}}
{{- $_ := set $etcd $site $peer.etcdClientUrl -}}
{{- $_ := set $controllers $site $peer.controllerUrl -}}
{{- end -}}
{{- dict "units" $units "etcd" $etcd "controllers" $controllers | toPrettyJson -}}
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

{{/*
Volumes of a watertight pod: (dict "root" $ "addresses" bool "roles" list).
"config" is /etc/watertight: the topology file (every program) and, for the router,
controller and observer, the site's address map. "credentials" holds only the keys in
"roles" (units: replication, admin; controller: admin, operator, approvers; others:
none); with the shortcut, "admin-token" holds the one token. "tmp" because the root is
read-only.
*/}}
{{- define "watertight.volumes" -}}
{{- $fullname := include "watertight.fullname" .root -}}
- name: config
  projected:
    sources:
      - configMap:
          name: {{ $fullname }}-topology
      {{- if .addresses }}
      - configMap:
          name: {{ $fullname }}-addresses
      {{- end }}
{{- if and .roles (eq (include "watertight.credentialsMode" .root) "roles") }}
- name: credentials
  secret:
    secretName: {{ include "watertight.credentialsSecretName" .root }}
    defaultMode: 0440
    items:
      {{- range .roles }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- else if .roles }}
- name: admin-token
  secret:
    secretName: {{ include "watertight.tokenSecretName" .root }}
    defaultMode: 0440
    items:
      - key: {{ .root.Values.adminToken.key }}
        path: token
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/* Mounts of the volumes above: (dict "root" $ "roles" list). No subPath: a Secret
mounted whole is updated in place, which is how a rotation reaches the processes. */}}
{{- define "watertight.mounts" -}}
- name: config
  mountPath: /etc/watertight
  readOnly: true
{{- if and .roles (eq (include "watertight.credentialsMode" .root) "roles") }}
- name: credentials
  mountPath: /var/run/secrets/watertight/credentials
  readOnly: true
{{- else if .roles }}
- name: admin-token
  mountPath: /var/run/secrets/watertight
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Pod annotations that roll a workload when its configuration changes. */}}
{{- define "watertight.configChecksums" -}}
checksum/topology: {{ toJson .Values.topology | sha256sum }}
checksum/addresses: {{ include "watertight.addresses" . | sha256sum }}
{{- end -}}
