// The upload form: a file chosen or dropped, its type, optional layout and meter, dry run; a progress
// bar for the bytes; then the new job opened in the detail panel.

import { messageOf } from './api.js';
import { byId, formatBytes, h } from './dom.js';
import { LAYOUT_OPTIONS } from './layouts.js';
import { IN_BODY_MAX_BYTES, uploadFile } from './upload.js';

export class UploadPanel {
  private readonly form = byId('upload-form', HTMLFormElement);
  private readonly fileInput = byId('file', HTMLInputElement);
  private readonly dropZone = byId('drop-zone', HTMLElement);
  private readonly chosen = byId('file-chosen', HTMLElement);
  private readonly type = byId('import-type', HTMLSelectElement);
  private readonly format = byId('format', HTMLSelectElement);
  private readonly meter = byId('meter', HTMLInputElement);
  private readonly dryRun = byId('dry-run', HTMLInputElement);
  private readonly button = byId('upload-button', HTMLButtonElement);
  private readonly progressRow = byId('upload-progress', HTMLElement);
  private readonly bar = byId('upload-bar', HTMLProgressElement);
  private readonly bytes = byId('upload-bytes', HTMLElement);
  private readonly status = byId('upload-status', HTMLElement);
  private readonly limits = byId('upload-limits', HTMLElement);
  private dropped: File | null = null;
  /** Unknown until the API was asked; the upload is tried either way. */
  private directUploads: boolean | undefined;

  constructor(private readonly onUploaded: (batchId: string) => void) {
    this.offerLayouts();
    this.type.addEventListener('change', () => this.offerLayouts());
    this.fileInput.addEventListener('change', () => {
      this.dropped = null;
      this.describeChoice();
    });
    this.dropZone.addEventListener('dragover', (event) => {
      event.preventDefault();
      this.dropZone.classList.add('dragging');
    });
    this.dropZone.addEventListener('dragleave', () => this.dropZone.classList.remove('dragging'));
    this.dropZone.addEventListener('drop', (event) => {
      event.preventDefault();
      this.dropZone.classList.remove('dragging');
      const file = event.dataTransfer?.files[0];
      if (file === undefined) return;
      this.dropped = file;
      this.fileInput.value = '';
      this.describeChoice();
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
  }

  setDirectUploads(available: boolean): void {
    this.directUploads = available;
    const limit = formatBytes(IN_BODY_MAX_BYTES);
    this.limits.textContent = available
      ? `Files up to ${limit} go with the request; larger ones go straight to storage.`
      : `This API takes files up to ${limit} (direct uploads to storage are not enabled): compress larger ones with gzip.`;
    this.describeChoice();
  }

  /** The layouts of the chosen type; detection (no format) stays the default. */
  private offerLayouts(): void {
    const options = LAYOUT_OPTIONS[this.type.value] ?? [];
    this.format.replaceChildren(
      h('option', { value: '' }, 'Detect from the header row'),
      ...options.map((option) => h('option', { value: option.name }, `${option.name} (${option.headers})`)),
    );
  }

  private file(): File | null {
    return this.dropped ?? this.fileInput.files?.[0] ?? null;
  }

  private describeChoice(): void {
    const file = this.file();
    if (file === null) {
      this.chosen.textContent = 'No file chosen.';
      return;
    }
    const large = file.size > IN_BODY_MAX_BYTES;
    const route = !large
      ? 'sent with the request'
      : this.directUploads === false
        ? 'too large for this API'
        : 'direct upload to storage';
    this.chosen.textContent = `${file.name}, ${formatBytes(file.size)} (${route}).`;
  }

  private async submit(): Promise<void> {
    const file = this.file();
    if (file === null) {
      this.status.textContent = 'Choose a file first.';
      this.fileInput.focus();
      return;
    }
    this.button.disabled = true;
    this.progressRow.hidden = false;
    this.setProgress(0, file.size);
    this.status.textContent = `Uploading ${file.name}…`;
    try {
      const result = await uploadFile(
        {
          file,
          type: this.type.value,
          format: this.format.value,
          meter: this.meter.value,
          dryRun: this.dryRun.checked,
        },
        (sent, total) => this.setProgress(sent, total),
      );
      this.setProgress(file.size, file.size);
      this.status.textContent =
        result.path === 'direct'
          ? `Uploaded ${file.name} to storage; the import starts when the storage reports it.`
          : `Uploaded ${file.name}; the import is queued.`;
      this.onUploaded(result.batchId);
    } catch (error) {
      this.status.textContent = `Upload failed: ${messageOf(error)}`;
    } finally {
      this.button.disabled = false;
    }
  }

  private setProgress(sent: number, total: number): void {
    const percent = total > 0 ? Math.round((sent / total) * 100) : 0;
    this.bar.value = percent;
    this.bar.textContent = `${percent}%`;
    this.bytes.textContent = `${formatBytes(sent)} of ${formatBytes(total)}`;
  }
}
