using System.CommandLine;
using System.Reflection;

namespace Reconciler.Cli;

/// <summary>
/// `reconciler init [DIR]` (docs/cli.md): scaffolds a new infra repo that validates and plans as it is:
/// reconciler.yaml, one environment, one service with a health check, one toggle, the JSON Schemas (so the files'
/// modelines resolve in an editor), a .gitignore for .reconciler/ and the GitHub Actions workflow of examples/ci with
/// its scripts. The files are embedded in the executable at build time from the same sources the project uses
/// (schemas/, examples/ci/, Init/template/), so a scaffolded repo matches the CLI that made it. Writes nothing when
/// any of the files already exists.
/// </summary>
internal static class InitCommand
{
    private const string ResourcePrefix = "init/";

    public static Command Build()
    {
        var directory = new Argument<string>("DIR") { Description = "Where to create the repo (created if missing). Default: the current directory.", DefaultValueFactory = _ => "." };
        var schemasOnly = new Option<bool>("--schemas-only") { Description = "Write (or update) only schemas/*.schema.json, for the modelines of an existing repo." };
        var cmd = new Command("init", "Scaffold a new infra repo: reconciler.yaml, an environment, a service, a toggle, the schemas and a CI workflow.");
        cmd.Arguments.Add(directory);
        cmd.Options.Add(schemasOnly);
        cmd.SetAction((parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliRunner.RunAsync(stderr, () => Task.FromResult(Run(parse.GetValue(directory)!, parse.GetValue(schemasOnly), stdout)));
        });
        return cmd;
    }

    /// <summary>The files init writes, by path relative to the new repo.</summary>
    internal static IReadOnlyList<string> Files() =>
        [.. typeof(InitCommand).Assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..]).Order(StringComparer.Ordinal)];

    private static int Run(string directory, bool schemasOnly, TextWriter stdout)
    {
        var root = Path.GetFullPath(directory);
        // The schemas belong to the reconciler, not to the repo: --schemas-only overwrites them with this CLI's.
        IReadOnlyList<string> files = schemasOnly ? [.. Files().Where(f => f.StartsWith("schemas/", StringComparison.Ordinal))] : Files();
        List<string> existing = schemasOnly ? [] : files.Where(f => File.Exists(Path.Combine(root, f))).ToList();
        if (existing.Count > 0)
            throw new UserError($"{directory} already has {string.Join(", ", existing.Take(3))}{(existing.Count > 3 ? $" and {existing.Count - 3} more of the files init writes" : "")}; " +
                                "init writes only into a new repo and changed nothing. Pick an empty directory.");
        var assembly = typeof(InitCommand).Assembly;
        foreach (var file in files)
        {
            var path = Path.Combine(root, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var source = assembly.GetManifestResourceStream(ResourcePrefix + file)!)
            using (var target = File.Create(path))
                source.CopyTo(target);
            if (file.EndsWith(".sh", StringComparison.Ordinal) && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            stdout.WriteLine($"created {Path.Combine(directory, file)}");
        }
        if (schemasOnly) return ExitCodes.Ok;
        stdout.WriteLine();
        stdout.WriteLine("Next: git init (if this is not a Git repo yet), then `reconciler validate` and `reconciler plan` here.");
        stdout.WriteLine("Edit environments/production.yaml (your hosts) and services/hello.yaml (your artifact) before the first apply.");
        return ExitCodes.Ok;
    }
}
