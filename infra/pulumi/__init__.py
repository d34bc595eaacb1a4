"""The Kubernetes path: the Pulumi project ``watertight`` with one stack per site.

The program (``__main__.py`` in this directory) renders the Helm chart with the real
``helm template`` at program time and creates every object as a typed
``pulumi_kubernetes`` resource under one :class:`~infra.pulumi.site_component.WatertightSite`
per stack, so ``pulumi.runtime.set_mocks`` tests see the Deployments themselves.

Modules: ``site_values`` (topology -> chart values, pure), ``stack_config`` (typed stack
configuration), ``chart_render`` (helm subprocess), ``k8s_objects`` (manifest -> typed
resource), ``site_component`` (the ComponentResource), ``program`` (what ``__main__`` runs).
"""
