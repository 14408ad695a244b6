using System.Collections.Immutable;
using System.Text;

namespace Reconciler.Schema.Model;

/// <summary>Why a ${...} reference could not be expanded.</summary>
public enum PlaceholderProblem { None, Unterminated, Unknown }

/// <summary>
/// The one ${name} expander of the product (the engine's Interpolation wraps it for commands and checks; the planner uses
/// it for per-host config). "$${" writes a literal "${". Pure: no I/O, the values come from the caller.
/// </summary>
public static class Placeholders
{
    /// <summary>Expands every ${name} with <paramref name="encode"/>(value); on a problem returns null and names it
    /// (<paramref name="name"/>: the unknown name).</summary>
    public static string? TryExpand(string template, IReadOnlyDictionary<string, string> variables, Func<string, string> encode,
        out PlaceholderProblem problem, out string? name)
    {
        (problem, name) = (PlaceholderProblem.None, null);
        var sb = new StringBuilder(template.Length + 32);
        var i = 0;
        while (i < template.Length)
        {
            var c = template[i];
            if (c == '$' && i + 2 < template.Length && template[i + 1] == '$' && template[i + 2] == '{')
            {
                sb.Append("${");
                i += 3;
                continue;
            }
            if (c == '$' && i + 1 < template.Length && template[i + 1] == '{')
            {
                var end = template.IndexOf('}', i + 2);
                if (end < 0) { problem = PlaceholderProblem.Unterminated; return null; }
                var key = template[(i + 2)..end].Trim();
                if (!variables.TryGetValue(key, out var value)) { (problem, name) = (PlaceholderProblem.Unknown, key); return null; }
                sb.Append(encode(value));
                i = end + 1;
                continue;
            }
            sb.Append(c);
            i++;
        }
        return sb.ToString();
    }
}

/// <summary>A config value that names a host variable the host does not have (or has no region for ${host.region}).</summary>
public sealed class HostConfigException(string message) : Exception(message);

/// <summary>
/// Per-host config (issue 14): literal config values may use ${host.name}, ${host.address}, ${host.region} and
/// ${host.vars.NAME}. A service whose config uses none is the same on every host (and its release id is what it always
/// was); otherwise each host gets its own rendered config, so its own config hash and release id.
/// </summary>
public static class HostConfig
{
    /// <summary>The host's variables: host.name, host.address, host.region (when it has one), host.vars.NAME.</summary>
    public static ImmutableSortedDictionary<string, string> Variables(HostSpec host)
    {
        var v = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        v["host.name"] = host.Name;
        v["host.address"] = host.Address;
        if (host.Region is not null) v["host.region"] = host.Region;
        foreach (var (name, value) in host.Vars) v[$"host.vars.{name}"] = value;
        return v.ToImmutable();
    }

    /// <summary>True when some literal config value has a ${...} (or a $${ escape): its rendering depends on the host.</summary>
    public static bool IsPerHost(ServiceSpec spec)
    {
        foreach (var value in spec.Config.Values)
            if (value is ConfigValue.Literal l && l.Value.Contains("${", StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary><paramref name="spec"/> with its config rendered for <paramref name="host"/>; the same instance when
    /// <see cref="IsPerHost"/> is false. Secret references are left alone (resolved at apply time, never interpolated).</summary>
    public static ServiceSpec ForHost(ServiceSpec spec, HostSpec host)
    {
        if (!IsPerHost(spec)) return spec;
        var variables = Variables(host);
        var config = spec.Config.ToBuilder();
        foreach (var (key, value) in spec.Config)
        {
            if (value is not ConfigValue.Literal l || !l.Value.Contains("${", StringComparison.Ordinal)) continue;
            var rendered = Placeholders.TryExpand(l.Value, variables, v => v, out var problem, out var name)
                ?? throw new HostConfigException(problem == PlaceholderProblem.Unterminated
                    ? $"service '{spec.Name}': config.{key} has an unterminated '${{'; close it with '}}', or write '$${{' for a literal '${{'"
                    : $"service '{spec.Name}': config.{key} uses ${{{name}}}, which host '{host.Name}' does not define " +
                      $"({(name == "host.region" ? "it has no region" : "its vars: " + (host.Vars.IsEmpty ? "none" : string.Join(", ", host.Vars.Keys)))}); " +
                      "define it on the host (static vars, or node meta for a catalog host) or change the value");
            config[key] = new ConfigValue.Literal(rendered);
        }
        return spec with { Config = config.ToImmutable() };
    }
}
