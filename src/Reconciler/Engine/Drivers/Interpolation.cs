using System.Collections.Immutable;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers;

/// <summary>A ${...} reference that cannot be expanded (unknown variable, unterminated). Never retried: the
/// spec must be fixed.</summary>
public sealed class InterpolationException(string message) : ReconcilerException(FailureKind.CommitFault, message);

/// <summary>
/// Expands ${name} in health checks and restart/stop commands (with <see cref="Placeholders"/>, which per-host config
/// uses too). Known names: host.name, host.address, host.region (hosts with a region), host.vars.NAME, service.name,
/// release.id, release.path, deploy.path, version. Anything else is an error (a typo must not silently become an empty
/// string). "$${" writes a literal "${", so shell parameter
/// expansion like $${HOME} stays available; plain $HOME needs no escape.
/// </summary>
public static class Interpolation
{
    public static readonly ImmutableArray<string> KnownNames =
        ["host.name", "host.address", "host.region", "host.vars.NAME", "service.name", "release.id", "release.path", "deploy.path", "version"];

    /// <summary>The variables of one host, and of one release of one service when known (else those names are
    /// an error when used).</summary>
    public static ImmutableSortedDictionary<string, string> Variables(HostSpec host, string? service, string? releaseId, string? deployPath,
        string? releasePath = null)
    {
        var v = HostConfig.Variables(host).ToBuilder();
        if (service is not null) v["service.name"] = service;
        if (releaseId is not null)
        {
            v["release.id"] = releaseId;
            v["version"] = ReleaseLayout.VersionOf(releaseId);
        }
        if (deployPath is not null)
        {
            v["deploy.path"] = deployPath;
            if (releaseId is not null) v["release.path"] = releasePath ?? $"{deployPath}/{ReleaseLayout.ReleaseLinkTarget(releaseId)}";
        }
        return v.ToImmutable();
    }

    /// <summary>Expands a command: every value is shell-quoted, so it is one literal word whatever it contains.</summary>
    public static string ExpandCommand(string template, IReadOnlyDictionary<string, string> variables) =>
        Expand(template, variables, Shell.Quote);

    /// <summary>Expands a URL, address or other non-shell text: values are inserted as they are.</summary>
    public static string ExpandText(string template, IReadOnlyDictionary<string, string> variables) =>
        Expand(template, variables, v => v);

    public static string Expand(string template, IReadOnlyDictionary<string, string> variables, Func<string, string> encode) =>
        Placeholders.TryExpand(template, variables, encode, out var problem, out var name) ?? throw new InterpolationException(problem == PlaceholderProblem.Unterminated
            ? $"unterminated '${{' in '{ReleaseLayout.Printable(template)}': close it with '}}', or write '$${{' for a literal '${{'"
            : $"unknown variable '${{{ReleaseLayout.Printable(name!)}}}' in '{ReleaseLayout.Printable(template)}'; known: {Known(variables)} " +
              "(write '$${' for a literal '${')");

    private static string Known(IReadOnlyDictionary<string, string> variables) =>
        string.Join(", ", variables.Keys.Select(k => "${" + k + "}"));
}
