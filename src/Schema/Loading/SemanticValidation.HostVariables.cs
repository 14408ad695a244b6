using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Host variables (issue 14): ${host.region} and ${host.vars.NAME} in a service's config, commands and checks must be
/// defined on every host of the group the service runs on, in every environment it is enabled in, or the first apply
/// would stop on a host the value cannot be rendered for. Reported at the value that uses it (the override's when an
/// environment overrides it). Catalog groups have no hosts before plan time: plan checks those.
/// </summary>
internal static partial class SemanticValidation
{
    private const string VarsPrefix = "host.vars.";

    private static void CheckHostVariables(Context c, ServiceDefinition service, LoadedFile f)
    {
        foreach (var (envName, env) in c.Environments)
        {
            var (enabled, hostGroup, deploy) = DesiredStateBuilder.Placement(service, envName);
            if (!enabled || !env.HostGroups.TryGetValue(hostGroup, out var group) || group.Catalog is not null || group.Hosts.IsEmpty) continue;
            service.Overrides.TryGetValue(envName, out var o);
            var overridden = "/environments/" + envName;
            foreach (var (key, value) in service.Base.Config.SetItems(o?.Config ?? service.Base.Config))
                if (value is ConfigValue.Literal l) Check(l.Value, $"/config/{key}", $"config.{key}");
            Check(deploy.RestartCommand, "/deploy/restartCommand", "deploy.restartCommand");
            Check(deploy.StopCommand, "/deploy/stopCommand", "deploy.stopCommand");
            Check(deploy.Hooks?.BeforeSwitch, "/deploy/hooks/beforeSwitch", "deploy.hooks.beforeSwitch");
            Check(deploy.Hooks?.AfterSwitch, "/deploy/hooks/afterSwitch", "deploy.hooks.afterSwitch");
            Check(deploy.Hooks?.AfterGate, "/deploy/hooks/afterGate", "deploy.hooks.afterGate");
            var health = o?.Health ?? service.Base.Health;
            for (var i = 0; i < health.Checks.Length; i++)
            {
                var check = health.Checks[i];
                Check(check.Url, $"/health/checks/{i}/http/url", "the http check's url");
                Check(check.Command, $"/health/checks/{i}/command/run", "the command check");
                Check(check.Address, $"/health/checks/{i}/tcp/address", "the tcp check's address");
            }

            // The value as this environment gets it: its override when it writes one (only looked up for an error:
            // a cached file keeps its tree undecoded).
            void Check(string? text, string basePointer, string what)
            {
                if (text is null || !text.Contains("${host.", StringComparison.Ordinal)) return;
                foreach (System.Text.RegularExpressions.Match m in Placeholder().Matches(text))
                {
                    var name = m.Groups[1].Value.Trim();
                    var missing = name == "host.region" ? group.Hosts.FirstOrDefault(h => h.Region is null)
                        : name.StartsWith(VarsPrefix, StringComparison.Ordinal) ? group.Hosts.FirstOrDefault(h => !h.Vars.ContainsKey(name[VarsPrefix.Length..]))
                        : null;
                    if (missing is null) continue;
                    var pointer = o is not null && f.Parsed.Nodes.ContainsKey(overridden + basePointer) ? overridden + basePointer : basePointer;
                    var envFile = c.FileOf[("Environment", envName)].Path;
                    var fix = name == "host.region"
                        ? $"give it a region in {envFile}"
                        : $"add 'vars: {{ {name[VarsPrefix.Length..]}: ... }}' to it in {envFile}";
                    c.Error("interpolation.undefined",
                        $"{what} uses ${{{name}}}, which host '{missing.Name}' of host group '{hostGroup}' in environment '{envName}' does not define; {fix}, or change the value",
                        f.At(pointer), pointer);
                }
            }
        }
    }
}
