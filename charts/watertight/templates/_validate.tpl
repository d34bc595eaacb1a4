{{/*
Cross-reference checks the JSON schema cannot express. Each failure names the value
path and what is expected, e.g.
  values: units.overrides.u99: unknown unit "u99"; the topology has u00, u01, ...
*/}}
{{- define "watertight.validate" -}}
{{- $sites := list -}}
{{- range .Values.topology.sites -}}{{- $sites = append $sites .name -}}{{- end -}}
{{- $units := list -}}
{{- range .Values.topology.units -}}{{- $units = append $units .name -}}{{- end -}}
{{- if not (has .Values.site $sites) -}}
{{- fail (printf "values: site: unknown site %q; topology.sites has %s" .Values.site (join ", " $sites)) -}}
{{- end -}}
{{- $active := list -}}
{{- range .Values.topology.sites -}}{{- if eq .role "active" -}}{{- $active = append $active .name -}}{{- end -}}{{- end -}}
{{- range $i, $u := .Values.topology.units -}}
{{- if not (has $u.primary $sites) -}}
{{- fail (printf "values: topology.units[%d].primary: unknown site %q; topology.sites has %s" $i $u.primary (join ", " $sites)) -}}
{{- end -}}
{{- if not (has $u.primary $active) -}}
{{- fail (printf "values: topology.units[%d].primary: %q is not an active site; a primary must start in one of %s" $i $u.primary (join ", " $active)) -}}
{{- end -}}
{{- end -}}
{{- range $name, $_ := .Values.units.overrides -}}
{{- if not (has $name $units) -}}
{{- fail (printf "values: units.overrides.%s: unknown unit %q; the topology has %s" $name $name (join ", " $units)) -}}
{{- end -}}
{{- end -}}
{{- range $name, $_ := .Values.peerSites -}}
{{- if or (not (has $name $sites)) (eq $name $.Values.site) -}}
{{- fail (printf "values: peerSites.%s: not another site of the topology (%s; this site is %s)" $name (join ", " $sites) $.Values.site) -}}
{{- end -}}
{{- end -}}
{{- $others := without $sites .Values.site -}}
{{- if .Values.peerSites -}}
{{- range $others -}}
{{- if not (hasKey $.Values.peerSites .) -}}
{{- fail (printf "values: peerSites: missing site %q; give every other site (%s) or none (single-site rehearsal)" . (join ", " $others)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.tls.enabled -}}
{{- if not .Values.tls.secretName -}}
{{- fail "values: tls.secretName: required with tls.enabled=true; name this site's kubernetes.io/tls Secret holding ca.crt, tls.crt and tls.key (as cert-manager writes it)" -}}
{{- end -}}
{{- /* With TLS on, the listeners these URLs reach speak only TLS: a plain one could never be answered. */ -}}
{{- $urls := dict "etcd.advertisePeerUrl" .Values.etcd.advertisePeerUrl "etcd.advertiseClientUrl" .Values.etcd.advertiseClientUrl "controller.advertiseUrl" .Values.controller.advertiseUrl -}}
{{- range $site, $peer := .Values.peerSites -}}
{{- range $key := list "unitUrlTemplate" "etcdPeerUrl" "etcdClientUrl" "controllerUrl" -}}
{{- $_ := set $urls (printf "peerSites.%s.%s" $site $key) (get $peer $key) -}}
{{- end -}}
{{- end -}}
{{- range $path := keys $urls | sortAlpha -}}
{{- $url := get $urls $path -}}
{{- if and $url (not (hasPrefix "https://" $url)) -}}
{{- fail (printf "values: %s: %q is not https:// but tls.enabled=true; every site-to-site URL must be https:// (the unit, controller and etcd listeners speak only TLS)" $path $url) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if not (include "watertight.credentialsMode" .) -}}
{{- fail "values: credentials: set credentials.existingSecret to a Secret name (or credentials.generate=true; the shortcut: adminToken.existingSecret)" -}}
{{- end -}}
{{- end -}}
