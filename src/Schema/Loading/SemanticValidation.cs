using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Reconciler.Schema.Model;
using Semver;

namespace Reconciler.Schema.Loading;

/// <summary>
/// The second pass: builds the typed model from the files that passed their schema and checks what no single file
/// can show (names against file names, duplicates, references, dependency cycles, timing, regions, ranges).
/// References to a name whose own file is broken are not reported again: that file already has its errors.
/// </summary>
internal static partial class SemanticValidation
{
    public static RepoModel? BuildAndCheck(string revision, List<LoadedFile> files, List<Diagnostic> diagnostics, ParallelOptions parallel)
    {
        // Names of files that failed: references to them are not errors of their own.
        var broken = files.Where(f => f.Parsed.HasErrors).Select(f => (f.Kind, f.Stem)).ToHashSet();
        var good = files.Where(f => !f.Parsed.HasErrors).ToList();

        // The repository file first (the one DropDuplicates keeps): services are read with its defaults.
        var (repositoryFile, repository, defaultsFingerprint) = Repository(good);

        // Each other file on its own, in parallel (thousands of services): from the cache when it holds this
        // file's definition under the same defaults (or the loader made it right after parsing), else read from its
        // JSON tree.
        Parallel.For(0, good.Count, parallel, i =>
        {
            var f = good[i];
            if (f.Kind != "Repository") f.Model = ModelOfPart(f, repository.Defaults, defaultsFingerprint);
        });

        CheckNamesMatchFiles(good, diagnostics);
        var unique = DropDuplicates(good, diagnostics);

        if (repositoryFile is null && !files.Exists(f => f.Kind == "Repository"))
            diagnostics.Add(new Diagnostic(Severity.Error, "repo.missing-file",
                "the repo has no reconciler.yaml at its root; create one with 'apiVersion: reconciler/v1' and 'kind: Repository'", null));

        var environments = ImmutableSortedDictionary.CreateBuilder<string, EnvironmentSpec>(StringComparer.Ordinal);
        var services = ImmutableSortedDictionary.CreateBuilder<string, ServiceDefinition>(StringComparer.Ordinal);
        var toggles = ImmutableSortedDictionary.CreateBuilder<string, ToggleDefinition>(StringComparer.Ordinal);
        var fileOf = new Dictionary<(string Kind, string Name), LoadedFile>();
        foreach (var f in unique)
        {
            foreach (var d in f.Model!.Diagnostics) diagnostics.Add(d.WithFile(f.Path));
            switch (f.Model.Definition)
            {
                case EnvironmentSpec env:
                    environments[env.Name] = env;
                    fileOf[(f.Kind, env.Name)] = f;
                    break;
                case ServiceDefinition service:
                    services[service.Name] = service;
                    fileOf[(f.Kind, service.Name)] = f;
                    break;
                case ToggleDefinition toggle:
                    toggles[toggle.Name] = toggle;
                    fileOf[(f.Kind, toggle.Name)] = f;
                    break;
            }
        }

        var model = new RepoModel(revision, repository, environments.ToImmutable(), services.ToImmutable(), toggles.ToImmutable());
        var context = new Context(model, fileOf, broken, diagnostics);
        // Each service is checked against the whole model but reports only about itself: check them on every core.
        var serviceFiles = model.Services.Values.Select(service => (service, fileOf[("Service", service.Name)])).ToArray();
        Parallel.For(0, serviceFiles.Length, parallel, i => CheckService(context, serviceFiles[i].service, serviceFiles[i].Item2));
        CheckCycles(context);
        CheckDeployPaths(context);
        foreach (var toggle in model.Toggles.Values) CheckToggle(context, toggle, fileOf[("Toggle", toggle.Name)]);
        return model;
    }

    /// <summary>The repository settings the other files are read with: those of the first valid repository file by
    /// path (its model is set), else the built-in defaults; with the fingerprint of the defaults.</summary>
    internal static (LoadedFile? File, RepositorySpec Repository, string DefaultsFingerprint) Repository(IEnumerable<LoadedFile> valid)
    {
        var repositoryFile = valid.Where(f => f.Kind == "Repository").MinBy(f => f.Path, StringComparer.Ordinal);
        if (repositoryFile is not null) repositoryFile.Model = ModelOf(repositoryFile, ModelReader.BuiltInDefaults, "");
        var repository = repositoryFile?.Model!.Definition as RepositorySpec ?? new RepositorySpec(null, ModelReader.BuiltInDefaults, [], null);
        return (repositoryFile, repository, ModelCodec.DefaultsFingerprint(repository.Defaults));
    }

    /// <summary>The model of a valid environment, service or toggle file under the repository's defaults (a service is
    /// read with them; the others do not depend on them). The loader calls it as soon as a file is parsed, to drop the
    /// file's JSON tree early (<see cref="ParsedFile.WithoutTree"/>); the semantic pass then finds it made.</summary>
    internal static FileModel ModelOfPart(LoadedFile f, Defaults defaults, string defaultsFingerprint) =>
        ModelOf(f, defaults, f.Kind == "Service" ? defaultsFingerprint : "");

    /// <summary>The typed definition of one valid file and the findings about that file alone.</summary>
    private static FileModel ModelOf(LoadedFile f, Defaults defaults, string defaultsFingerprint)
    {
        if (f.Parsed.CachedModel is { } cached && cached.DefaultsFingerprint == defaultsFingerprint) return cached;
        var findings = new List<Diagnostic>();
        object definition;
        switch (f.Kind)
        {
            case "Repository":
                var repository = ModelReader.ReadRepository(f.Path, f.Parsed);
                CheckTiming(findings, f, repository.Defaults.Health, "/defaults/health", "reconciler.yaml defaults");
                definition = repository;
                break;
            case "Environment":
                var environment = ModelReader.ReadEnvironment(f.Path, f.Parsed);
                CheckEnvironment(findings, environment, f);
                definition = environment;
                break;
            case "Service":
                var service = ModelReader.ReadService(f.Path, f.Parsed, defaults);
                CheckServiceFile(findings, service, f);
                definition = service;
                break;
            case "Toggle":
                var toggle = ModelReader.ReadToggle(f.Path, f.Parsed);
                CheckToggleFile(findings, toggle, f);
                definition = toggle;
                break;
            default:
                throw new InvalidOperationException($"no definition for kind {f.Kind}");
        }
        f.ModelIsNew = true;
        return new FileModel(definition, defaultsFingerprint,
            findings.ConvertAll(d => new FileDiagnostic(d.Severity, d.RuleId, d.Message, d.Location!.Line, d.Location.Column, d.JsonPointer)));
    }

    private static void Error(List<Diagnostic> sink, string rule, string message, SourceLocation location, string? pointer) =>
        sink.Add(new Diagnostic(Severity.Error, rule, message, location, pointer));

    private sealed record Context(
        RepoModel Model,
        Dictionary<(string Kind, string Name), LoadedFile> FileOf,
        HashSet<(string Kind, string Stem)> Broken,
        List<Diagnostic> Diagnostics)
    {
        /// <summary>Thread-safe: services are checked in parallel (findings are sorted at the end).</summary>
        public void Error(string rule, string message, SourceLocation location, string? pointer = null)
        {
            var diagnostic = new Diagnostic(Severity.Error, rule, message, location, pointer);
            lock (Diagnostics) Diagnostics.Add(diagnostic);
        }

        /// <summary>The environments in name order, each with its spec: looked at for every service.</summary>
        public KeyValuePair<string, EnvironmentSpec>[] Environments { get; } = [.. Model.Environments];

        public bool IsBroken(string kind, string name) => Broken.Contains((kind, name));
    }

    private static string NameOf(LoadedFile f) => f.Model!.Name;

    private static void CheckNamesMatchFiles(List<LoadedFile> files, List<Diagnostic> diagnostics)
    {
        foreach (var f in files)
        {
            if (f.Kind == "Repository") continue;
            var name = NameOf(f);
            if (name == f.Stem) continue;
            var extension = f.Path[f.Path.LastIndexOf('.')..];
            diagnostics.Add(new Diagnostic(Severity.Error, "name.file-mismatch",
                $"name '{name}' does not match the file name '{f.Stem}{extension}'; rename the file to {name}{extension} or set 'name: {f.Stem}'",
                f.At("/name"), "/name"));
        }
    }

    /// <summary>Keeps the first file (by path) for each kind and name; the others are errors.</summary>
    private static List<LoadedFile> DropDuplicates(List<LoadedFile> files, List<Diagnostic> diagnostics)
    {
        var first = new Dictionary<(string, string), LoadedFile>();
        var kept = new List<LoadedFile>(files.Count);
        foreach (var f in files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            // Only the first repository file is read (BuildAndCheck); any other is a duplicate of it.
            var name = f.Kind == "Repository" ? "reconciler" : NameOf(f);
            if (first.TryGetValue((f.Kind, name), out var original))
            {
                var what = f.Kind == "Repository" ? "the repository settings are" : $"{f.Kind.ToLowerInvariant()} '{name}' is";
                diagnostics.Add(new Diagnostic(Severity.Error, "duplicate.name",
                    $"{what} also defined in {original.Path}; names must be unique across files, so rename or remove one",
                    f.Kind == "Repository" ? f.At("") : f.At("/name"), f.Kind == "Repository" ? null : "/name"));
                continue;
            }
            first[(f.Kind, name)] = f;
            kept.Add(f);
        }
        return kept;
    }

    private static void CheckEnvironment(List<Diagnostic> sink, EnvironmentSpec env, LoadedFile f)
    {
        var regions = env.Regions.ToHashSet(StringComparer.Ordinal);
        var hostSeen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (groupName, group) in env.HostGroups)
        {
            CheckHostSource(sink, f, groupName, group);
            for (var i = 0; i < group.Hosts.Length; i++)
            {
                var host = group.Hosts[i];
                var pointer = $"/hostGroups/{groupName}/hosts/{i}";
                if (hostSeen.TryGetValue(host.Name, out var otherGroup))
                    Error(sink, "duplicate.name",
                        $"host '{host.Name}' is already defined in host group '{otherGroup}'; host names must be unique within an environment",
                        f.At(pointer + "/name"), pointer + "/name");
                else hostSeen[host.Name] = groupName;

                if (host.Region is { } region && !regions.Contains(region))
                    Error(sink, "region.unknown",
                        env.Regions.IsEmpty
                            ? $"host '{host.Name}' is in region '{region}', but the environment lists no regions; add 'regions: [{region}]' (the rollout order)"
                            : $"host '{host.Name}' is in region '{region}', which is not in this environment's regions ({string.Join(", ", env.Regions)}); add it to 'regions' or fix the name",
                        f.At(pointer + "/region"), pointer + "/region");
            }
        }
        for (var i = 0; i < env.FreezeWindows.Length; i++)
        {
            var w = env.FreezeWindows[i];
            if (w.End <= w.Start)
                Error(sink, "freeze.range", "freeze window ends before it starts; 'end' must be later than 'start'",
                    f.At($"/freezeWindows/{i}/end"), $"/freezeWindows/{i}/end");
        }
    }

    /// <summary>A group lists its hosts or names a Consul service to take them from, one or the other.</summary>
    private static void CheckHostSource(List<Diagnostic> sink, LoadedFile f, string groupName, HostGroup group)
    {
        var pointer = "/hostGroups/" + groupName;
        // The parsed tree only when the model cannot tell (an empty list): a cached file keeps its tree undecoded.
        var listed = !group.Hosts.IsEmpty || f.Parsed.Nodes.ContainsKey(pointer + "/hosts");
        if (listed == (group.Catalog is not null))
            Error(sink, "host-group.source",
                listed
                    ? $"host group '{groupName}' has both 'hosts' and 'consul'; keep one: a static list, or the instances of a Consul service (another group of this environment can use the other)"
                    : $"host group '{groupName}' has no hosts; add 'hosts: [...]' or 'consul: {{ service: NAME }}' to take them from the Consul catalog",
                f.KeyAt(pointer), pointer);
    }

    private static void CheckService(Context c, ServiceDefinition service, LoadedFile f)
    {
        var model = c.Model;
        for (var i = 0; i < service.Base.DependsOn.Length; i++)
        {
            var target = service.Base.DependsOn[i];
            if (model.Services.ContainsKey(target) || c.IsBroken("Service", target)) continue;
            var pointer = PointerOfListItem(f, "/dependsOn", target);
            var hint = Suggest(target, model.Services.Keys);
            c.Error("ref.depends-on",
                $"service '{service.Name}' depends on '{target}', which is not defined{(hint is null ? "" : $" (did you mean '{hint}'?)")}; create services/{target}.yaml or remove it from dependsOn",
                f.At(pointer), pointer);
        }

        foreach (var (environment, _) in service.Overrides)
        {
            if (model.Environments.ContainsKey(environment) || c.IsBroken("Environment", environment)) continue;
            var pointer = "/environments/" + environment;
            c.Error("ref.override-environment",
                $"overrides for environment '{environment}', which is not defined ({Known(model.Environments.Keys)}); fix the name or create environments/{environment}.yaml",
                f.KeyAt(pointer), pointer);
        }

        foreach (var (envName, env) in c.Environments)
        {
            var (enabled, hostGroup, _) = DesiredStateBuilder.Placement(service, envName);
            if (!enabled || env.HostGroups.ContainsKey(hostGroup)) continue;
            var overridden = service.Overrides.TryGetValue(envName, out var o) && o.HostGroup is not null;
            var pointer = overridden ? $"/environments/{envName}/hostGroup" : "/hostGroup";
            var envFile = c.FileOf[("Environment", envName)].Path;
            c.Error("ref.host-group",
                $"host group '{hostGroup}' is not defined in environment '{envName}' ({envFile} defines: {(env.HostGroups.IsEmpty ? "none" : string.Join(", ", env.HostGroups.Keys))}); add it there, or set hostGroup or 'enabled: false' under environments.{envName}",
                f.At(pointer), pointer);
        }
        CheckHostVariables(c, service, f);
    }

    /// <summary>What can be wrong with a service file by itself: timings it sets, placeholders it uses.</summary>
    private static void CheckServiceFile(List<Diagnostic> sink, ServiceDefinition service, LoadedFile f)
    {
        CheckTiming(sink, f, service.Base.Health, "/health", $"service '{service.Name}'", ownOnly: true);
        CheckInterpolation(sink, f, service.Base, "");
        CheckHookTimeout(sink, f, service.Base.Deploy, "");
        foreach (var (environment, o) in service.Overrides)
        {
            var prefix = "/environments/" + environment;
            if (o.Health is { } health) CheckTiming(sink, f, health, prefix + "/health", $"service '{service.Name}' in '{environment}'", ownOnly: true);
            CheckConfigPlaceholders(sink, f, o.Config, prefix);
            if (o.Deploy is { } deploy) CheckHookTimeout(sink, f, deploy, prefix);
        }
    }

    /// <summary>A hook holds its host (and its batch) while it runs: its bound must be real, and not hours.</summary>
    private static void CheckHookTimeout(List<Diagnostic> sink, LoadedFile f, DeploySpec deploy, string prefix)
    {
        var pointer = prefix + "/deploy/hooks/timeout";
        if (deploy.Hooks is not { } hooks || !f.Parsed.Nodes.ContainsKey(pointer)) return;
        if (hooks.Timeout < TimeSpan.FromSeconds(1) || hooks.Timeout > LifecycleHooks.MaxTimeout)
            Error(sink, "hooks.timeout",
                $"hook timeout {ModelReader.FormatDuration(hooks.Timeout)} is out of range; give each hook between 1s and {ModelReader.FormatDuration(LifecycleHooks.MaxTimeout)} (default {ModelReader.FormatDuration(LifecycleHooks.DefaultTimeout)})",
                f.At(pointer), pointer);
    }

    /// <summary>Two services deployed to the same path on the same hosts would overwrite each other's releases.</summary>
    private static void CheckDeployPaths(Context c)
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (envName, env) in c.Model.Environments)
        {
            var owner = new Dictionary<(string HostGroup, string Path), string>();
            foreach (var (name, service) in c.Model.Services)
            {
                var (enabled, hostGroup, deploy) = DesiredStateBuilder.Placement(service, envName);
                if (!enabled || deploy.Driver == DriverKind.ConsulKv) continue;
                var key = (hostGroup, deploy.Path.TrimEnd('/'));
                if (!owner.TryAdd(key, name))
                {
                    if (!reported.Add(name)) continue;
                    var f = c.FileOf[("Service", name)];
                    var pointer = f.Parsed.Nodes.ContainsKey($"/environments/{envName}/deploy/path") ? $"/environments/{envName}/deploy/path" : "/deploy/path";
                    c.Error("duplicate.deploy-path",
                        $"service '{name}' deploys to {deploy.Path} on host group '{hostGroup}' in environment '{envName}', like service '{owner[key]}'; the two would overwrite each other's releases, so give each its own path",
                        f.At(pointer), pointer);
                }
            }
        }
    }

    /// <summary>deadline must exceed minHealthy, and leave room for the consecutive passes at the interval.</summary>
    private static void CheckTiming(List<Diagnostic> sink, LoadedFile f, HealthSpec h, string pointer, string what, bool ownOnly = false)
    {
        // Only blame a service for timings it sets itself; defaults are checked once, in reconciler.yaml.
        var own = f.Parsed.Nodes.ContainsKey(pointer + "/deadline") || f.Parsed.Nodes.ContainsKey(pointer + "/minHealthy")
                  || f.Parsed.Nodes.ContainsKey(pointer + "/interval") || f.Parsed.Nodes.ContainsKey(pointer + "/consecutivePasses");
        if (ownOnly && !own) return;
        var at = f.Parsed.Nodes.ContainsKey(pointer + "/deadline") ? pointer + "/deadline"
            : f.Parsed.Nodes.ContainsKey(pointer + "/minHealthy") ? pointer + "/minHealthy"
            : pointer;
        var deadline = ModelReader.FormatDuration(h.Deadline);
        if (h.Deadline <= h.MinHealthy)
        {
            Error(sink, "timing.deadline",
                $"{what}: health deadline {deadline} must be greater than minHealthy {ModelReader.FormatDuration(h.MinHealthy)}, or no host can ever pass; raise deadline or lower minHealthy",
                f.At(at), at);
            return;
        }
        var needed = h.Interval * (h.ConsecutivePasses - 1);
        if (needed >= h.Deadline)
            Error(sink, "timing.deadline",
                $"{what}: health deadline {deadline} is too short for {h.ConsecutivePasses} consecutive passes {ModelReader.FormatDuration(h.Interval)} apart; make deadline greater than {ModelReader.FormatDuration(needed)}",
                f.At(at), at);
    }

    [GeneratedRegex(@"\$\{([^}]*)\}")]
    private static partial Regex Placeholder();

    private static readonly FrozenSetOfNames KnownPlaceholders = new(["host.name", "host.address", "host.region", "service.name", "release.id", "release.path", "deploy.path", "version"]);

    /// <summary>What a config value may use: the host's variables only (it is rendered per host at plan time, before any
    /// release exists).</summary>
    private static readonly FrozenSetOfNames ConfigPlaceholders = new(["host.name", "host.address", "host.region"]);

    private sealed class FrozenSetOfNames(IEnumerable<string> names)
    {
        private readonly FrozenSet<string> _set = names.ToFrozenSet(StringComparer.Ordinal);
        public bool Contains(string name) => _set.Contains(name) || (name.StartsWith("host.vars.", StringComparison.Ordinal) && name.Length > "host.vars.".Length);
        public override string ToString() => string.Join(", ", _set.Order(StringComparer.Ordinal).Select(n => "${" + n + "}")) + ", ${host.vars.NAME}";
    }

    /// <summary>Unknown ${...} placeholders in commands and check strings would reach a shell unexpanded.</summary>
    private static void CheckConfigPlaceholders(List<Diagnostic> sink, LoadedFile f, IEnumerable<KeyValuePair<string, ConfigValue>> config, string prefix)
    {
        foreach (var (key, value) in config)
            if (value is ConfigValue.Literal l) CheckPlaceholders(sink, f, l.Value, $"{prefix}/config/{key}", ConfigPlaceholders);
    }

    private static void CheckPlaceholders(List<Diagnostic> sink, LoadedFile f, string? text, string pointer, FrozenSetOfNames known)
    {
        if (text is null || !text.Contains("${", StringComparison.Ordinal)) return;
        // "$${" is a literal "${" (Placeholders.TryExpand): not a placeholder.
        foreach (Match m in Placeholder().Matches(text.Replace("$${", "", StringComparison.Ordinal)))
        {
            var name = m.Groups[1].Value;
            if (known.Contains(name)) continue;
            Error(sink, "interpolation.unknown",
                $"unknown placeholder '${{{name}}}'; available: {known} (write '$${{' for a literal '${{')",
                f.At(pointer), pointer);
        }
    }

    private static void CheckInterpolation(List<Diagnostic> sink, LoadedFile f, ServiceSpec s, string prefix)
    {
        void Check(string? text, string pointer) => CheckPlaceholders(sink, f, text, pointer, KnownPlaceholders);
        CheckConfigPlaceholders(sink, f, s.Config, prefix);
        Check(s.Deploy.RestartCommand, prefix + "/deploy/restartCommand");
        Check(s.Deploy.StopCommand, prefix + "/deploy/stopCommand");
        Check(s.Deploy.Hooks?.BeforeSwitch, prefix + "/deploy/hooks/beforeSwitch");
        Check(s.Deploy.Hooks?.AfterSwitch, prefix + "/deploy/hooks/afterSwitch");
        Check(s.Deploy.Hooks?.AfterGate, prefix + "/deploy/hooks/afterGate");
        for (var i = 0; i < s.Health.Checks.Length; i++)
        {
            var check = s.Health.Checks[i];
            var p = $"{prefix}/health/checks/{i}";
            Check(check.Url, p + "/http/url");
            Check(check.Command, p + "/command/run");
            if (f.Parsed.Nodes.ContainsKey(p + "/tcp/address")) Check(check.Address, p + "/tcp/address");
        }
    }

    /// <summary>Finds dependency cycles (Tarjan's algorithm, iterative so a long chain cannot overflow the stack)
    /// and reports each once, as the shortest cycle through its alphabetically first service.</summary>
    private static void CheckCycles(Context c)
    {
        var services = c.Model.Services;
        var names = services.Keys.ToList();
        var indexOf = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++) indexOf[names[i]] = i;
        var edges = names.Select(n => services[n].Base.DependsOn.Where(indexOf.ContainsKey).Select(d => indexOf[d]).ToArray()).ToArray();

        var index = new int[names.Count];
        var low = new int[names.Count];
        var onStack = new bool[names.Count];
        Array.Fill(index, -1);
        var stack = new Stack<int>();
        var counter = 0;
        var components = new List<List<int>>();
        for (var start = 0; start < names.Count; start++)
        {
            if (index[start] >= 0) continue;
            var work = new Stack<(int Node, int Edge)>();
            work.Push((start, 0));
            index[start] = low[start] = counter++;
            stack.Push(start);
            onStack[start] = true;
            while (work.Count > 0)
            {
                var (v, e) = work.Pop();
                if (e < edges[v].Length)
                {
                    work.Push((v, e + 1));
                    var w = edges[v][e];
                    if (index[w] < 0)
                    {
                        index[w] = low[w] = counter++;
                        stack.Push(w);
                        onStack[w] = true;
                        work.Push((w, 0));
                    }
                    else if (onStack[w]) low[v] = Math.Min(low[v], index[w]);
                    continue;
                }
                if (work.Count > 0) low[work.Peek().Node] = Math.Min(low[work.Peek().Node], low[v]);
                if (low[v] != index[v]) continue;
                var component = new List<int>();
                int x;
                do { x = stack.Pop(); onStack[x] = false; component.Add(x); } while (x != v);
                if (component.Count > 1 || edges[v].Contains(v)) components.Add(component);
            }
        }

        foreach (var component in components)
        {
            var members = component.ToHashSet();
            var first = component.Min();
            var cycle = ShortestCycle(first, edges, members);
            var path = string.Join(" -> ", cycle.Select(i => names[i]));
            var from = names[cycle[0]];
            var to = names[cycle[1]];
            var f = c.FileOf[("Service", from)];
            var pointer = PointerOfListItem(f, "/dependsOn", to);
            c.Error("cycle.depends-on",
                $"dependency cycle: {path}; remove one of these dependsOn entries so the services can be ordered",
                f.At(pointer), pointer);
        }
    }

    private static List<int> ShortestCycle(int start, int[][] edges, HashSet<int> members)
    {
        // Breadth-first from start back to start, staying inside the component; edges are sorted by name.
        var parent = new Dictionary<int, int>();
        var queue = new Queue<int>();
        queue.Enqueue(start);
        while (queue.Count > 0)
        {
            var v = queue.Dequeue();
            foreach (var w in edges[v].Order())
            {
                if (!members.Contains(w)) continue;
                if (w == start)
                {
                    var path = new List<int> { start };
                    for (var x = v; x != start; x = parent[x]) path.Add(x);
                    path.Add(start);
                    path.Reverse();
                    return path;
                }
                if (parent.ContainsKey(w)) continue;
                parent[w] = v;
                queue.Enqueue(w);
            }
        }
        return [start, start];
    }

    /// <summary>Version ranges are checked with the file (and cached with it): parsing them is not free.</summary>
    private static void CheckToggleFile(List<Diagnostic> sink, ToggleDefinition toggle, LoadedFile f)
    {
        foreach (var (service, range) in toggle.Requires)
        {
            var pointer = "/requires/" + service;
            if (!SemVersionRange.TryParse(range, out _))
                Error(sink, "toggle.range",
                    $"{SchemaValidation.Quote(range)} is not a valid version range; use a range such as '>=1.5.0', '^1.5.0' or '>=1.5.0 <2.0.0'",
                    f.At(pointer), pointer);
        }
    }

    private static void CheckToggle(Context c, ToggleDefinition toggle, LoadedFile f)
    {
        foreach (var service in toggle.Requires.Keys)
        {
            var pointer = "/requires/" + service;
            if (!c.Model.Services.ContainsKey(service) && !c.IsBroken("Service", service))
            {
                var hint = Suggest(service, c.Model.Services.Keys);
                c.Error("ref.toggle-service",
                    $"toggle '{toggle.Name}' requires service '{service}', which is not defined{(hint is null ? "" : $" (did you mean '{hint}'?)")}; fix the name or remove the requirement",
                    f.KeyAt(pointer), pointer);
            }
        }
        foreach (var environment in toggle.Environments.Keys)
        {
            if (c.Model.Environments.ContainsKey(environment) || c.IsBroken("Environment", environment)) continue;
            var pointer = "/environments/" + environment;
            c.Error("ref.override-environment",
                $"toggle value for environment '{environment}', which is not defined ({Known(c.Model.Environments.Keys)}); fix the name or create environments/{environment}.yaml",
                f.KeyAt(pointer), pointer);
        }
    }

    private static string PointerOfListItem(LoadedFile f, string listPointer, string value)
    {
        if (f.Parsed.Root is Newtonsoft.Json.Linq.JObject root && ModelReader.Arr(root, listPointer.TrimStart('/')) is { } list)
            for (var i = 0; i < list.Count; i++)
                if (list[i].Type == Newtonsoft.Json.Linq.JTokenType.String && (string?)list[i] == value)
                    return ParsedFile.Child(listPointer, i);
        return listPointer;
    }

    private static string Known(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count == 0 ? "the repo defines none" : "defined: " + string.Join(", ", list);
    }

    private static string? Suggest(string name, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = 3;
        foreach (var candidate in candidates)
        {
            if (Math.Abs(candidate.Length - name.Length) >= bestDistance) continue;
            var d = EditDistance(name, candidate);
            if (d < bestDistance) { bestDistance = d; best = candidate; }
        }
        return best;
    }

    internal static int EditDistance(string a, string b)
    {
        // On the stack: a part of the repo loaded for an incremental plan asks this for each name of the part for each
        // dependency left out of it, and two arrays a call were a quarter of that load's page faults.
        Span<int> previous = b.Length < 256 ? stackalloc int[b.Length + 1] : new int[b.Length + 1];
        Span<int> current = b.Length < 256 ? stackalloc int[b.Length + 1] : new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            var swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.Length];
    }
}
