#!/bin/sh
# Headless checks of poolcheck.el: it byte-compiles without warnings, and
# loading it with eglot claims only poolcheck's configuration-file modes.
# Needs emacs (28+) and eglot (built in from 29; Debian: elpa-eglot).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp "$here/poolcheck.el" "$out/"
# Packages installed by the system (Debian's elpa-*), which -Q leaves out.
site='(let ((default-directory "/usr/share/emacs/site-lisp/elpa"))
  (when (file-directory-p default-directory)
    (normal-top-level-add-subdirs-to-load-path)))'
emacs --batch -Q -L "$out" \
  --eval '(package-initialize)' --eval "$site" \
  --eval '(setq byte-compile-error-on-warn t)' \
  -f batch-byte-compile "$out/poolcheck.el"
emacs --batch -Q -L "$out" \
  --eval '(package-initialize)' --eval "$site" \
  --eval "(progn
    (require 'eglot)
    (require 'poolcheck)
    (let ((ours (seq-filter
                 (lambda (entry) (eq (cdr entry) #'poolcheck--eglot-contact))
                 eglot-server-programs)))
      (unless (equal (mapcar #'car ours) (list poolcheck-config-modes))
        (error \"poolcheck's eglot entries: %S\" (mapcar #'car ours))))
    (with-temp-buffer
      (setq buffer-file-name \"/tmp/proj/pgbouncer.ini\")
      (set-auto-mode)
      (unless (eq major-mode 'poolcheck-pgbouncer-mode)
        (error \"pgbouncer.ini opened in %s\" major-mode)))
    (with-temp-buffer
      (setq buffer-file-name \"/tmp/proj/app.py\")
      (set-auto-mode)
      (when (memq major-mode poolcheck-config-modes)
        (error \"app.py opened in %s\" major-mode)))
    (message \"poolcheck.el: ok\"))"
