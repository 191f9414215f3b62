-- End-to-end test with Neovim as the client: `nvim --headless --clean -l e2e.lua
-- <editors/neovim> <poolcheck binary> <project>`. Exits non-zero on failure.
local plugin_dir, binary, project = arg[1], arg[2], arg[3]
vim.opt.runtimepath:prepend(plugin_dir)

local failures = 0
local function check(ok, what)
  if ok then
    io.stdout:write("ok   " .. what .. "\n")
  else
    failures = failures + 1
    io.stdout:write("FAIL " .. what .. "\n")
  end
end

local function codes_of(bufnr)
  local codes = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    codes[#codes + 1] = tostring(d.code)
  end
  table.sort(codes)
  return codes
end

local function has(list, value)
  return vim.tbl_contains(list, value)
end

require("poolcheck").setup({ path = binary })

vim.cmd.edit(vim.fs.joinpath(project, "shop/db.py"))
local db = vim.api.nvim_get_current_buf()

local attached = vim.wait(20000, function()
  return #vim.lsp.get_clients({ bufnr = db, name = "poolcheck" }) > 0
end, 50)
check(attached, "poolcheck attached to shop/db.py")

local published = vim.wait(20000, function()
  return has(codes_of(db), "PC101")
end, 50)
check(published, "diagnostics for shop/db.py: " .. table.concat(codes_of(db), " "))
for _, code in ipairs({ "PC101", "PC103", "PC201", "PC204" }) do
  check(has(codes_of(db), code), code .. " in shop/db.py")
end

local pc101
for _, d in ipairs(vim.diagnostic.get(db)) do
  if d.code == "PC101" then
    pc101 = d
  end
end
check(pc101 ~= nil and pc101.lnum == 6 and pc101.col == 37, "PC101 at line 7, column 38")
check(pc101 ~= nil and pc101.source == "poolcheck", "source is poolcheck")

-- The finding is shown in the files holding its factors, though they are not open.
local conf = vim.uri_to_bufnr(vim.uri_from_fname(vim.fs.joinpath(project, "deploy/postgresql.conf")))
local in_conf = vim.wait(10000, function()
  return has(codes_of(conf), "PC101")
end, 50)
check(in_conf, "PC101 also shown in deploy/postgresql.conf")

-- Hover over max_overflow=30 shows the arithmetic.
local client = vim.lsp.get_clients({ bufnr = db, name = "poolcheck" })[1]
if client then
  local line = vim.api.nvim_buf_get_lines(db, 6, 7, false)[1]
  local col = line:find("30, pool_pre_ping", 1, true) - 1
  local response = client:request_sync("textDocument/hover", {
    textDocument = { uri = vim.uri_from_bufnr(db) },
    position = { line = 6, character = col },
  }, 10000, db)
  local value = response and response.result and response.result.contents.value or ""
  check(value:find("this factor: 8 × 30 = 240", 1, true) ~= nil, "hover shows this factor's share")

  local actions = client:request_sync("textDocument/codeAction", {
    textDocument = { uri = vim.uri_from_bufnr(db) },
    range = { start = { line = 6, character = 40 }, ["end"] = { line = 6, character = 40 } },
    context = { diagnostics = {} },
  }, 10000, db)
  local titles = {}
  for _, a in ipairs(actions and actions.result or {}) do
    titles[#titles + 1] = a.title
  end
  check(has(titles, "Ignore PC101 on this line"), "code action: Ignore PC101 on this line")
  check(has(titles, "Show documentation for PC101"), "code action: Show documentation for PC101")

  -- A live edit in gunicorn.conf.py changes the finding shown in db.py.
  vim.cmd.edit(vim.fs.joinpath(project, "gunicorn.conf.py"))
  local gunicorn = vim.api.nvim_get_current_buf()
  vim.wait(10000, function()
    return vim.lsp.buf_is_attached(gunicorn, client.id)
  end, 50)
  local lines = vim.api.nvim_buf_get_lines(gunicorn, 0, -1, false)
  for i, l in ipairs(lines) do
    if l:find('"GUNICORN_WORKERS", "8"', 1, true) then
      local at = l:find('"8"', 1, true)
      vim.api.nvim_buf_set_text(gunicorn, i - 1, at, i - 1, at + 1, { "2" })
    end
  end
  local updated = vim.wait(10000, function()
    for _, d in ipairs(vim.diagnostic.get(db)) do
      if d.code == "PC101" and d.message:find("295 connections", 1, true) then
        return true
      end
    end
    return false
  end, 50)
  check(updated, "editing gunicorn.conf.py updates PC101 in shop/db.py")
end

io.stdout:write(string.format("%d failure(s)\n", failures))
for _, c in ipairs(vim.lsp.get_clients()) do
  c:stop(true)
end
vim.wait(2000, function()
  return #vim.lsp.get_clients() == 0
end, 50)
os.exit(failures == 0 and 0 or 1)
