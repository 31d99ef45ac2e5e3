using EdgeSelector.LoadTest;

if (args.Contains("-h") || args.Contains("--help"))
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"edgeselector-load: {ex.Message}");
    Console.Error.WriteLine("run with --help for the options");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

LoadResult result;
try
{
    result = LoadRunner.Run(options, options.Progress ? Console.Error : null, cancel.Token);
}
catch (IOException ex)
{
    Console.Error.WriteLine($"edgeselector-load: {ex.Message}");
    return 3;
}

Console.Write(result.ToText());
if (options.OutputDirectory is not null)
{
    result.WriteReports(options.OutputDirectory);
    Console.WriteLine($"report={Path.GetFullPath(Path.Combine(options.OutputDirectory, "report.json"))}");
}

return result.Failures.Count > 0 ? 1 : 0;
